package engine

import (
	"strings"
	"testing"
)

// TestParseRunList: crunch-run --list output as §5.3 describes it.
func TestParseRunList(t *testing.T) {
	a, b := ctrUUID(1), ctrUUID(2)
	other := "yyyyy-dz642-000000000000003"
	for _, tc := range []struct {
		name      string
		out       string
		clusterID string
		want      RunList
	}{
		{name: "empty", out: "", clusterID: "zzzzz", want: RunList{}},
		{name: "running", out: a + "\n" + b + "\n", clusterID: "zzzzz", want: RunList{Running: []string{a, b}}},
		{name: "no trailing newline", out: a + "\n" + b, clusterID: "zzzzz", want: RunList{Running: []string{a, b}}},
		{name: "stale", out: a + "\n" + b + " stale\n", clusterID: "zzzzz", want: RunList{Running: []string{a}, Stale: []string{b}}},
		{name: "broken", out: "broken\n" + a + "\n", clusterID: "zzzzz", want: RunList{Running: []string{a}, Broken: true}},
		{name: "broken alone", out: "broken\n", clusterID: "zzzzz", want: RunList{Broken: true}},
		{
			name: "other cluster ignored", out: other + "\n" + other + " stale\n" + a + "\n", clusterID: "zzzzz",
			want: RunList{Running: []string{a}},
		},
		{name: "no cluster ID: all lines", out: other + "\n" + a + "\n", clusterID: "", want: RunList{Running: []string{other, a}}},
		{
			name: "blank lines and spaces", out: "\n\n   \n  " + a + "  \n\t\n" + b + "   stale \n\n", clusterID: "zzzzz",
			want: RunList{Running: []string{a}, Stale: []string{b}},
		},
		{name: "CRLF", out: a + "\r\n" + b + " stale\r\nbroken\r\n", clusterID: "zzzzz", want: RunList{Running: []string{a}, Stale: []string{b}, Broken: true}},
		{
			name: "unknown words ignored", out: a + " frobnicated\n" + b + " running-elsewhere\nnonsense\n", clusterID: "zzzzz",
			want: RunList{},
		},
		{name: "broken is a whole line", out: "broken-ish\nnot broken\n", clusterID: "zzzzz", want: RunList{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, "RunList", tc.want, ParseRunList(tc.out, tc.clusterID))
		})
	}
}

// FuzzParseRunList: no input panics, and every UUID returned is in the
// input and belongs to the cluster.
func FuzzParseRunList(f *testing.F) {
	a, b := ctrUUID(1), ctrUUID(2)
	f.Add(a+"\n"+b+" stale\nbroken\n", "zzzzz")
	f.Add("yyyyy-dz642-000000000000003\n"+a+"\r\n\n  \n", "zzzzz")
	f.Add(a+" frobnicated\n"+a+"  stale  \n", "zzzzz")
	f.Add("", "")
	f.Add("\n\n\n", "zzzzz")
	f.Add("zzzzz\nzzzzz stale\n", "zzzzz")
	f.Fuzz(func(t *testing.T, out, clusterID string) {
		if !validClusterID(clusterID) {
			clusterID = testClusterID
		}
		rl := ParseRunList(out, clusterID)
		for _, list := range [][]string{rl.Running, rl.Stale} {
			for _, uuid := range list {
				if uuid == "" {
					t.Errorf("empty UUID from %q", out)
				}
				if !strings.Contains(out, uuid) {
					t.Errorf("UUID %q not in the input %q", uuid, out)
				}
				if !strings.HasPrefix(uuid, clusterID) {
					t.Errorf("UUID %q does not start with cluster ID %q", uuid, clusterID)
				}
				if strings.ContainsAny(uuid, " \n") {
					t.Errorf("UUID %q contains a separator", uuid)
				}
			}
		}
		if rl.Broken && !strings.Contains(out, "broken") {
			t.Errorf("broken without a broken line in %q", out)
		}
	})
}

// validClusterID reports whether s looks like an Arvados cluster ID:
// five lower-case letters or digits.
func validClusterID(s string) bool {
	if len(s) != 5 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
