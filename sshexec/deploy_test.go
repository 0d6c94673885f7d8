package sshexec

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadRunner(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "crunch-run")
	data := []byte("#!/bin/sh\necho runner\n")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	hash := hex.EncodeToString(sum[:])
	r, err := LoadRunner(bin, "/tmp/arvados-crunch-run")
	if err != nil {
		t.Fatal(err)
	}
	want := Runner{Dir: "/tmp/arvados-crunch-run", Path: "/tmp/arvados-crunch-run/crunch-run~" + hash, Hash: hash, Binary: data}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("runner (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ name, local, dir, want string }{
		{"missing", filepath.Join(dir, "missing"), "/tmp/x", "error loading runner binary: open " + filepath.Join(dir, "missing")},
		{"no path", "", "/tmp/x", "error loading runner binary: no local path given"},
		{"no dir", bin, "", "error loading runner binary: no deploy directory given"},
		{"dir with $", bin, "/tmp/$HOME", "error loading runner binary: deploy directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRunner(tc.local, tc.dir)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

// TestDeployCommands pins the exact commands of §5.1 as a non-root user
// sends them, and when the copy is skipped.
func TestDeployCommands(t *testing.T) {
	binary := []byte("binary\x00data")
	sum := md5.Sum(binary)
	hash := hex.EncodeToString(sum[:])
	r := Runner{Dir: "/tmp/it's here", Path: "/tmp/it's here/crunch-run~" + hash, Hash: hash, Binary: binary}
	check := `sudo md5sum '/tmp/it'\''s here/crunch-run~` + hash + `'`
	cp := `sudo sh -c 'set -e; dstdir="/tmp/it'\''s here"; dstfile="/tmp/it'\''s here/crunch-run~` + hash + `"; mkdir -p "$dstdir"; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"'`
	for _, tc := range []struct {
		name           string
		stdout, stderr string
		exit           int
		wantCopied     bool
		wantCmds       []string
	}{
		{name: "missing", stderr: "md5sum: no such file\n", exit: 1, wantCopied: true, wantCmds: []string{check, cp}},
		{name: "present", stdout: hash + "  " + r.Path + "\n", wantCmds: []string{check}},
		{name: "present, stderr", stdout: hash + "  " + r.Path + "\n", stderr: "warning\n", wantCopied: true, wantCmds: []string{check, cp}},
		{name: "wrong hash", stdout: strings.Repeat("0", 32) + "  " + r.Path + "\n", wantCopied: true, wantCmds: []string{check, cp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var copiedStdin []byte
			f := newFixture(t, func(cmd string, stdin []byte) ([]byte, []byte, int) {
				if strings.HasPrefix(cmd, "sudo md5sum ") {
					return []byte(tc.stdout), []byte(tc.stderr), tc.exit
				}
				copiedStdin = stdin
				return nil, nil, 0
			})
			f.exr.SetTarget(Target{Address: f.srv.addr, User: "crunch", Secret: testSecret})
			copied, err := r.Deploy(context.Background(), f.exr)
			if err != nil {
				t.Fatal(err)
			}
			if copied != tc.wantCopied {
				t.Errorf("copied = %v, want %v", copied, tc.wantCopied)
			}
			want := append([]string{"sudo " + secretCmd}, tc.wantCmds...)
			if diff := cmp.Diff(want, f.srv.commands()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			if tc.wantCopied && !bytes.Equal(copiedStdin, binary) {
				t.Errorf("copy got stdin %q, want the binary", copiedStdin)
			}
		})
	}
}

// TestDeployUnreachable: when md5sum cannot even run, Deploy does not
// try to copy and says why.
func TestDeployUnreachable(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.setSecret("impostor")
	r := Runner{Dir: "/tmp/d", Path: "/tmp/d/crunch-run~x", Hash: "x", Binary: []byte("x")}
	copied, err := r.Deploy(context.Background(), f.exr)
	if copied || !isIdentity(err) || !strings.HasPrefix(err.Error(), "checking runner binary /tmp/d/crunch-run~x: ") {
		t.Errorf("copied %v, err %v; want false and an identity error", copied, err)
	}
	if diff := cmp.Diff([]string{secretCmd}, f.srv.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}
