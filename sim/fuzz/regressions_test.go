package fuzz

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRegressions replays every line of scenarios/regressions/*.txt (see
// the README there) and requires a clean run.
func TestRegressions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "regressions", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression files (%v)", err)
	}
	n := 0
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text, _, _ := strings.Cut(sc.Text(), "#")
			if strings.TrimSpace(text) == "" {
				continue
			}
			seed, opts, err := parseRegression(text)
			if err != nil {
				t.Errorf("%s:%d: %v", file, line, err)
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s:%d", filepath.Base(file), line), func(t *testing.T) {
				t.Parallel()
				r := RunCase(NewCase(seed, opts), 0)
				if !r.OK() {
					t.Errorf("%s\nreplay: %s", r.Summary(), Command(seed, opts))
				}
			})
		}
		f.Close()
	}
	if n == 0 {
		t.Fatal("no regression lines")
	}
}

// parseRegression parses one line of scenarios/regressions:
// "seed=N [hours=H] [faults=LIST] [containers=N]".
func parseRegression(line string) (uint64, Options, error) {
	var seed uint64
	var opts Options
	seen := false
	for _, w := range strings.Fields(line) {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return 0, opts, fmt.Errorf("%q: want key=value", w)
		}
		var err error
		switch k {
		case "seed":
			seed, err = strconv.ParseUint(v, 10, 64)
			seen = true
		case "hours":
			opts.Hours, err = strconv.ParseFloat(v, 64)
		case "faults":
			opts.Faults, err = ParseClasses(v)
		case "containers":
			opts.Containers, err = strconv.Atoi(v)
		default:
			err = fmt.Errorf("unknown key (want seed, hours, faults, containers)")
		}
		if err != nil {
			return 0, opts, fmt.Errorf("%s: %v", k, err)
		}
	}
	if !seen {
		return 0, opts, fmt.Errorf("no seed=")
	}
	return seed, opts, nil
}
