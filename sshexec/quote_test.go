package sshexec

import "testing"

func TestShellQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/tmp/arvados-crunch-run/crunch-run~0123abcd", "/tmp/arvados-crunch-run/crunch-run~0123abcd"},
		{"/var/run/arvados-instance-secret", "/var/run/arvados-instance-secret"},
		{"", "''"},
		{"~root", "'~root'"},
		{"a=~", "'a=~'"},
		{"it's here", `'it'\''s here'`},
		{"$HOME", "'$HOME'"},
	} {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
