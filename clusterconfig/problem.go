package clusterconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// problem is one thing wrong with a config file.
type problem struct {
	source string
	line   int    // 0 if unknown
	path   string // full key path (Clusters.zzzzz.Containers...); "" for the file
	msg    string
}

func (p *problem) Error() string {
	var b strings.Builder
	b.WriteString(p.source)
	if p.line > 0 {
		fmt.Fprintf(&b, ":%d", p.line)
	}
	b.WriteString(": ")
	if p.path != "" {
		b.WriteString(p.path)
		b.WriteString(": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

// addf records a problem at line (0: the line of path or of its nearest
// ancestor seen in the file).
func (d *decoder) addf(line int, path, format string, args ...any) {
	if line == 0 {
		line = d.lineOf(path)
	}
	d.problems = append(d.problems, &problem{source: d.source, line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

// fail records a problem with the value at path, marking path failed.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.failed[path] = true
	d.addf(n.Line, path, format, args...)
}

// failedUnder reports whether the value at path, or at one of its
// ancestors, could not be decoded: a check of path would then only
// repeat that problem.
func (d *decoder) failedUnder(path string) bool {
	for p := path; p != ""; {
		if d.failed[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return false
}

// lineOf returns the line of path's key, or of its nearest ancestor's.
func (d *decoder) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// err returns every problem, sorted by line then path (those without a
// line last), joined one per line; nil if there is none.
func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	ps := slices.Clone(d.problems)
	slices.SortStableFunc(ps, func(a, b *problem) int {
		// Problems with no line (a missing key at the top) go last.
		if a.line != b.line {
			if a.line == 0 || b.line == 0 {
				return b.line - a.line
			}
			return a.line - b.line
		}
		return strings.Compare(a.path, b.path)
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}
