package sshexec

import "strings"

// shellQuote returns s as one shell word. Words made only of characters
// the shell never interprets stay as they are, so the common commands
// read exactly like the reference's (`md5sum /tmp/arvados-crunch-run/...`).
// A '~' is left bare only where it cannot start a tilde prefix: never
// first, and ':' and '=' (after which bash expands it) are not bare.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./~+@%,-") == "" && s[0] != '~' {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
