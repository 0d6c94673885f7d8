package stubvm

import (
	"errors"
	"strings"
)

// Quote returns s as one single-quoted shell word, the way the dispatcher
// quotes crunch-run arguments: each single quote inside s closes the
// quoted string, adds an escaped quote and reopens it.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Errors from Split, worded like sh's own.
var (
	errUnterminated = errors.New("Syntax error: Unterminated quoted string")
	errTrailingEsc  = errors.New("Syntax error: trailing backslash")
)

// Split splits a command line into words the way sh does for the quoting
// the dispatcher uses: blanks separate words; '...' is literal; "..."
// honours backslash before \ " $ ` and newline; a backslash outside
// quotes escapes the next character. Nothing is expanded and operators
// (; | & > <) are ordinary characters: the VM runs single commands only.
func Split(cmd string) ([]string, error) {
	var (
		words []string
		word  strings.Builder
		in    bool // a word has started, possibly empty ('')
	)
	flush := func() {
		if in {
			words = append(words, word.String())
			word.Reset()
			in = false
		}
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch c {
		case ' ', '\t', '\n':
			flush()
		case '\'':
			in = true
			end := strings.IndexByte(cmd[i+1:], '\'')
			if end < 0 {
				return nil, errUnterminated
			}
			word.WriteString(cmd[i+1 : i+1+end])
			i += end + 1
		case '"':
			in = true
			i++
			for ; i < len(cmd) && cmd[i] != '"'; i++ {
				if cmd[i] == '\\' && i+1 < len(cmd) && strings.IndexByte("\\\"$`\n", cmd[i+1]) >= 0 {
					i++
					if cmd[i] == '\n' {
						continue
					}
				}
				word.WriteByte(cmd[i])
			}
			if i == len(cmd) {
				return nil, errUnterminated
			}
		case '\\':
			if i+1 == len(cmd) {
				return nil, errTrailingEsc
			}
			i++
			if cmd[i] == '\n' {
				continue // line continuation
			}
			in = true
			word.WriteByte(cmd[i])
		default:
			in = true
			word.WriteByte(c)
		}
	}
	flush()
	return words, nil
}
