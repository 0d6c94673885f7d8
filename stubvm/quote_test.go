package stubvm_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  string
		want []string
		err  bool
	}{
		{"empty", "", nil, false},
		{"blanks", " \t\n ", nil, false},
		{"plain", "crunch-run --list", []string{"crunch-run", "--list"}, false},
		{"many blanks", "  a \t b\n c  ", []string{"a", "b", "c"}, false},
		{"single quotes", "'a b' 'c'", []string{"a b", "c"}, false},
		{"empty word", "a '' b", []string{"a", "", "b"}, false},
		{"glued", "a'b'c", []string{"abc"}, false},
		{"escaped quote", `'it'\''s'`, []string{"it's"}, false},
		{
			"dispatcher detach",
			`crunch-run --detach --stdin-config '--runtime-engine=stub' '--foo' '--extra='\''args'\''' 'zzzzz-dz642-000000000000001'`,
			[]string{"crunch-run", "--detach", "--stdin-config", "--runtime-engine=stub", "--foo", "--extra='args'", "zzzzz-dz642-000000000000001"},
			false,
		},
		{"single quotes are literal", `'a\b $x "y"'`, []string{`a\b $x "y"`}, false},
		{"double quotes", `"a b" "c\"d" "e\\f" "g\h" "\$x"`, []string{"a b", `c"d`, `e\f`, `g\h`, "$x"}, false},
		{"double quote continuation", "\"a\\\nb\"", []string{"ab"}, false},
		{"backslash", `a\ b \'c`, []string{"a b", "'c"}, false},
		{"line continuation", "a\\\nb", []string{"ab"}, false},
		{"operators are plain", "a;b | c", []string{"a;b", "|", "c"}, false},
		{"unterminated single", "a 'b", nil, true},
		{"unterminated double", `a "b`, nil, true},
		{"trailing backslash", `a \`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stubvm.Split(tc.cmd)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Split(%q) (-want +got):\n%s", tc.cmd, diff)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"--foo", "'--foo'"},
		{"--extra='args'", `'--extra='\''args'\'''`},
		{"a b", "'a b'"},
		{`$x "y" \z`, `'$x "y" \z'`},
	} {
		if got := stubvm.Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		words, err := stubvm.Split(stubvm.Quote(tc.in))
		if err != nil || len(words) != 1 || words[0] != tc.in {
			t.Errorf("Split(Quote(%q)) = %q, %v", tc.in, words, err)
		}
	}
}
