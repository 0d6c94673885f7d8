package stubvm

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"
)

// The VM's file system holds only what runner deployment (reference
// §5.1) writes: md5sum reads it, the copy script writes it, and a file
// holding Config.RunnerContent runs as crunch-run. Directories are not
// modelled: mkdir -p always succeeds.

// file is one file on the VM.
type file struct {
	content []byte
	mode    fs.FileMode
	md5     string // hex MD5 of content
}

// fileSystem is a VM's files, by cleaned path.
type fileSystem struct {
	files map[string]*file
	// runnerPath is the cleaned path of the runner written last, and
	// runnerList/runnerListPrices its --list commands as they were
	// spelt in the copy, so that probes of a deployed runner are
	// recognised without splitting (and without allocating).
	runnerPath                   string
	runnerList, runnerListPrices string
	ops                          FileOps
}

// FileOps counts the file commands a VM ran: ground truth for tests of
// runner deployment.
type FileOps struct {
	// MD5Sums counts md5sum commands.
	MD5Sums int
	// Copies counts runner copy scripts, failed ones included;
	// FailedCopies counts those that failed (Knobs.DeployFails).
	Copies, FailedCopies int
}

// FileOps returns the counts of file commands run so far.
func (vm *VM) FileOps() FileOps { return vm.fs.ops }

// File returns the content of the file at p and whether it exists. The
// content must not be modified.
func (vm *VM) File(p string) ([]byte, bool) {
	f := vm.fs.files[path.Clean(p)]
	if f == nil {
		return nil, false
	}
	return f.content, true
}

// Fixed answers of the file commands.
var (
	stderrUnsupported = []byte("sh: 1: stubvm: unsupported shell script (only the runner copy of reference §5.1 is)\n")
	stderrNoSpace     = []byte("cat: write error: No space left on device\n")
)

// parseOther classifies a command that is not Config.CrunchRunCommand:
// md5sum, sh (the runner copy, or an unsupported script), a deployed
// runner invoked by its path, or anything else. For the copy, words are
// its destination directory and file.
func (vm *VM) parseOther(body string) (CommandKind, []string, error) {
	if vm.fs.runnerList != "" && (body == vm.fs.runnerList || body == vm.fs.runnerListPrices) {
		return CommandList, nil, nil
	}
	words, err := Split(body)
	if err != nil || len(words) == 0 {
		return CommandOther, nil, err
	}
	switch {
	case words[0] == "md5sum":
		return CommandMD5Sum, words, nil
	case words[0] == "sh":
		if len(words) == 3 && words[1] == "-c" {
			if dir, dst, ok := parseCopy(words[2]); ok {
				return CommandCopy, []string{dir, dst}, nil
			}
		}
		return CommandShell, nil, nil
	case vm.isRunner(words[0]):
		return crunchRunKind(words), words, nil
	}
	return CommandOther, words, nil
}

// isRunner reports whether name runs the deployed crunch-run: a path
// (the shell looks names without a slash up in PATH) to an executable
// file holding Config.RunnerContent.
func (vm *VM) isRunner(name string) bool {
	if len(vm.cfg.RunnerContent) == 0 || !strings.Contains(name, "/") {
		return false
	}
	f := vm.fs.files[path.Clean(name)]
	return f != nil && f.mode&0o111 != 0 && bytes.Equal(f.content, vm.cfg.RunnerContent)
}

// parseCopy extracts the destination of the runner copy script as
// sshexec.Runner.Deploy sends it:
//
//	set -e; dstdir="<dir>"; dstfile="<path>"; mkdir -p "$dstdir"; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"
//
// Blanks and quoting may vary; the statements and their order may not,
// and the values must not need expanding.
func parseCopy(script string) (dir, dst string, ok bool) {
	stmts := splitStatements(script)
	want := []string{
		"set -e",
		"dstdir=",
		"dstfile=",
		"mkdir -p $dstdir",
		"touch $dstfile",
		"chmod 0755 $dstdir $dstfile",
		"cat >$dstfile",
	}
	if len(stmts) != len(want) {
		return "", "", false
	}
	var values []string
	for i, stmt := range stmts {
		words, err := Split(stmt)
		if err != nil || len(words) == 0 {
			return "", "", false
		}
		if name, ok := strings.CutSuffix(want[i], "="); ok {
			// An assignment: one word, nothing to expand.
			value, found := strings.CutPrefix(words[0], name+"=")
			if len(words) != 1 || !found || value == "" || strings.ContainsAny(stmt, "$`") {
				return "", "", false
			}
			values = append(values, value)
			continue
		}
		got := strings.Join(words, " ")
		if i == len(want)-1 {
			// cat >"$dstfile" and cat > "$dstfile" alike.
			got = strings.Replace(got, "> ", ">", 1)
		}
		if got != want[i] {
			return "", "", false
		}
	}
	return values[0], values[1], true
}

// splitStatements splits a script at the semicolons and newlines outside
// quotes, dropping blank statements.
func splitStatements(script string) []string {
	var stmts []string
	var quote byte
	start := 0
	for i := 0; i <= len(script); i++ {
		if i < len(script) {
			c := script[i]
			switch {
			case quote == '\'':
				if c == '\'' {
					quote = 0
				}
				continue
			case quote == '"':
				if c == '\\' && i+1 < len(script) {
					i++
				} else if c == '"' {
					quote = 0
				}
				continue
			case c == '\\':
				if i+1 < len(script) {
					i++
				}
				continue
			case c == '\'' || c == '"':
				quote = c
				continue
			case c != ';' && c != '\n':
				continue
			}
		}
		if s := strings.TrimSpace(script[start:i]); s != "" {
			stmts = append(stmts, s)
		}
		start = i + 1
	}
	return stmts
}

// md5sum prints "<md5>  <name>" for each file named, as GNU md5sum does;
// without names it sums stdin ("-").
func (vm *VM) md5sum(words []string, stdin []byte) Result {
	vm.fs.ops.MD5Sums++
	var res Result
	names := words[1:]
	if len(names) == 0 {
		names = []string{"-"}
	}
	for _, name := range names {
		var sum string
		switch f := vm.fs.files[path.Clean(name)]; {
		case name == "-":
			s := md5.Sum(stdin)
			sum = hex.EncodeToString(s[:])
		case strings.HasPrefix(name, "-"):
			return Result{Stderr: []byte("md5sum: stubvm: options are not supported\n"), Exit: 1}
		case f == nil:
			res.Stderr = append(res.Stderr, "md5sum: "+name+": No such file or directory\n"...)
			res.Exit = 1
			continue
		default:
			sum = f.md5
		}
		res.Stdout = append(res.Stdout, sum+"  "+name+"\n"...)
	}
	return res
}

// copyRunner runs the copy script: dst is created with mode 0755, then
// gets stdin. With Knobs.DeployFails the disk is full: dst stays empty
// and the script fails.
func (vm *VM) copyRunner(dst string, stdin []byte) Result {
	vm.fs.ops.Copies++
	if vm.cfg.Knobs.DeployFails {
		vm.fs.ops.FailedCopies++
		vm.writeFile(dst, nil, 0o755)
		return Result{Stderr: stderrNoSpace, Exit: 1}
	}
	vm.writeFile(dst, bytes.Clone(stdin), 0o755)
	return Result{}
}

// writeFile replaces the file at name (as the command spelt it).
func (vm *VM) writeFile(name string, content []byte, mode fs.FileMode) {
	if vm.fs.files == nil {
		vm.fs.files = map[string]*file{}
	}
	p := path.Clean(name)
	sum := md5.Sum(content)
	vm.fs.files[p] = &file{content: content, mode: mode, md5: hex.EncodeToString(sum[:])}
	switch {
	case vm.isRunner(name):
		vm.fs.runnerPath = p
		vm.fs.runnerList = name + " --list"
		vm.fs.runnerListPrices = name + " --list --stdin-prices"
	case p == vm.fs.runnerPath:
		vm.fs.runnerPath, vm.fs.runnerList, vm.fs.runnerListPrices = "", "", ""
	}
}

// unknownCommand is the shell's answer to a command (words) that is
// neither built in nor emulated: a name is looked up in PATH, a path is run as a
// file.
func (vm *VM) unknownCommand(words []string) Result {
	var name string
	if len(words) > 0 {
		name = words[0]
	}
	if !strings.Contains(name, "/") {
		return Result{Stderr: notFound(name), Exit: 127}
	}
	f := vm.fs.files[path.Clean(name)]
	switch {
	case f == nil:
		return Result{Stderr: []byte(name + ": No such file or directory\n"), Exit: 127}
	case f.mode&0o111 == 0:
		return Result{Stderr: []byte(name + ": Permission denied\n"), Exit: 126}
	}
	return Result{Stderr: []byte(name + ": cannot execute binary file: Exec format error\n"), Exit: 126}
}
