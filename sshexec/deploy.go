package sshexec

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Runner is a crunch-run binary to deploy to VMs (reference §5.1). The
// file name carries the binary's hash, so VMs never mistake an older
// binary for this one.
type Runner struct {
	// Dir is the directory on the VM (CloudVMs.DeployRunnerDirectory).
	Dir string
	// Path is the deployed file, "<Dir>/crunch-run~<Hash>".
	Path string
	// Hash is the binary's MD5, in hex.
	Hash string
	// Binary is the file content.
	Binary []byte
}

// LoadRunner reads the local binary at localPath (CloudVMs.DeployRunnerBinary,
// "/proc/self/exe" by default) to deploy into dir on VMs.
func LoadRunner(localPath, dir string) (Runner, error) {
	switch {
	case localPath == "":
		return Runner{}, errors.New("error loading runner binary: no local path given")
	case dir == "":
		return Runner{}, errors.New("error loading runner binary: no deploy directory given")
	case strings.ContainsAny(dir, "\"$`\\\n"):
		// The deploy script puts dir in double quotes.
		return Runner{}, fmt.Errorf("error loading runner binary: deploy directory %q contains one of \" $ ` \\ or newline", dir)
	}
	data, err := os.ReadFile(localPath)
	if err != nil {
		return Runner{}, fmt.Errorf("error loading runner binary: %w", err)
	}
	sum := md5.Sum(data)
	hash := hex.EncodeToString(sum[:])
	return Runner{Dir: dir, Path: path.Join(dir, "crunch-run~"+hash), Hash: hash, Binary: data}, nil
}

// Deploy makes sure the VM behind e has the runner at r.Path, copying it
// unless md5sum shows it is already there. It reports whether it copied.
func (r Runner) Deploy(ctx context.Context, e *Executor) (copied bool, err error) {
	stdout, stderr, err := e.Execute(ctx, "md5sum "+shellQuote(r.Path), nil)
	if err == nil && len(stderr) == 0 && string(stdout) == r.Hash+"  "+r.Path+"\n" {
		return false, nil
	}
	var exit *ssh.ExitError
	if err != nil && !errors.As(err, &exit) {
		// The VM was not reached (or not trusted); copying would fail
		// the same way.
		return false, fmt.Errorf("checking runner binary %s: %w", r.Path, err)
	}
	// touch and chmod come before the data, so a file with the right
	// hash never has the wrong mode.
	script := `set -e; dstdir="` + r.Dir + `"; dstfile="` + r.Path + `"; mkdir -p "$dstdir"; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"`
	_, stderr, err = e.Execute(ctx, "sh -c "+shellQuote(script), r.Binary)
	if err != nil {
		return false, fmt.Errorf("copying runner binary to %s: %w (stderr %q)", r.Path, err, stderr)
	}
	return true, nil
}
