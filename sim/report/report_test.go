package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/sim"
)

// chartCount is the number of charts in every report.
const chartCount = 5

// runScenario runs a scenario file with the sampling a report needs.
func runScenario(t testing.TB, file string, seed uint64) *sim.Result {
	t.Helper()
	sc, err := sim.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	opts := sim.Options{SampleEvery: time.Minute}
	if seed != 0 {
		opts.Seed, opts.SeedSet = seed, true
	}
	s, err := sim.New(sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s.Run()
}

func write(t *testing.T, title string, runs ...Run) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, title, runs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// svgElem is an element of a chart, as parsed.
type svgElem struct {
	name  string
	attrs map[string]string
	text  string
}

// parseCharts returns the elements of each <svg> of page, failing the
// test if one is not well-formed XML.
func parseCharts(t *testing.T, page string) [][]svgElem {
	t.Helper()
	var charts [][]svgElem
	for _, m := range regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1) {
		d := xml.NewDecoder(strings.NewReader(m))
		var elems []svgElem
		depth := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart %d is not well-formed: %v\n%.300s", len(charts), err, m)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				depth++
				e := svgElem{name: tok.Name.Local, attrs: map[string]string{}}
				for _, a := range tok.Attr {
					e.attrs[a.Name.Local] = a.Value
				}
				elems = append(elems, e)
			case xml.EndElement:
				depth--
			case xml.CharData:
				if len(elems) > 0 {
					elems[len(elems)-1].text += string(tok)
				}
			}
		}
		if depth != 0 {
			t.Fatalf("chart %d: unbalanced elements", len(charts))
		}
		charts = append(charts, elems)
	}
	return charts
}

func count(elems []svgElem, name string) int {
	n := 0
	for _, e := range elems {
		if e.name == name {
			n++
		}
	}
	return n
}

func texts(elems []svgElem) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteString(e.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// checkSelfContained fails if the page could make a request.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	for _, bad := range []string{"http://", "https://", "<script", "<link", "<img", "@import", "url(", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: it must load nothing", bad)
		}
	}
}

func TestWriteOneRun(t *testing.T) {
	r := runScenario(t, "../../scenarios/happy-path.yaml", 0)
	page := write(t, "happy <path>", Run{Name: "happy", Result: r})
	checkSelfContained(t, page)
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("not a whole HTML document")
	}
	if !strings.Contains(page, "<title>happy &lt;path&gt;</title>") {
		t.Errorf("title not escaped into <title>")
	}
	if n := strings.Count(page, "<svg "); n != chartCount {
		t.Errorf("%d <svg> elements, want %d (one per chart)", n, chartCount)
	}
	charts := parseCharts(t, page)
	for i, c := range charts[:4] {
		if count(c, "polyline") == 0 {
			t.Errorf("chart %d has no polyline", i)
		}
		for _, e := range c {
			if e.name == "polyline" && len(strings.Fields(e.attrs["points"])) < 2 {
				t.Errorf("chart %d: polyline with fewer than 2 points: %q", i, e.attrs["points"])
			}
		}
	}
	// One run: the states are stacked areas.
	if count(charts[0], "polygon") == 0 || count(charts[1], "polygon") == 0 {
		t.Errorf("one run: want stacked areas (polygons) for VMs and queue")
	}
	bars := 0
	for _, e := range charts[4] {
		if e.name == "rect" && e.attrs["class"] == "bar" {
			bars++
		}
	}
	if bars == 0 {
		t.Errorf("wait histogram has no bars")
	}
	// Axes are labelled with units; ticks read as durations and money.
	for i, want := range []string{"VMs", "containers", "price per hour ($/h)", "cost so far ($)", "queue wait (created → started)"} {
		if !strings.Contains(texts(charts[i]), want) {
			t.Errorf("chart %d: no label %q", i, want)
		}
	}
	for _, want := range []string{"simulated time", "\n10m\n", "\n20m\n"} {
		if !strings.Contains(texts(charts[0]), want) {
			t.Errorf("VM chart: no %q", want)
		}
	}
	if !regexp.MustCompile(`\n\$\d+\.\d\d\n`).MatchString(texts(charts[2])) {
		t.Errorf("hourly cost ticks are not money with 2 decimals:\n%s", texts(charts[2]))
	}
	if !strings.Contains(texts(charts[4]), "p99 "+fmtDuration(r.WaitP99)) {
		t.Errorf("histogram: no p99 mark")
	}
	// The summary has the numbers of Result.Summary.
	for _, want := range []string{"VM-hours", ">20<", "$0.38", "p95", "idle timeout"} {
		if !strings.Contains(page, want) {
			t.Errorf("summary: no %q", want)
		}
	}
}

func TestWriteCompare(t *testing.T) {
	a := runScenario(t, "../../scenarios/happy-path.yaml", 1)
	b := runScenario(t, "../../scenarios/happy-path.yaml", 2)
	page := write(t, "compare", Run{Name: "run A", Result: a}, Run{Name: "run B", Result: b})
	checkSelfContained(t, page)
	charts := parseCharts(t, page)
	if len(charts) != chartCount {
		t.Fatalf("%d charts, want %d", len(charts), chartCount)
	}
	for i, c := range charts {
		txt := texts(c)
		if !strings.Contains(txt, "run A") || !strings.Contains(txt, "run B") {
			t.Errorf("chart %d: legend does not name both runs", i)
		}
	}
	// States are overlaid as lines, the second run dashed.
	for i := range 2 {
		if count(charts[i], "polygon") != 0 {
			t.Errorf("chart %d: stacked areas with two runs", i)
		}
		dashed := 0
		for _, e := range charts[i] {
			if e.name == "polyline" && e.attrs["stroke-dasharray"] != "" {
				dashed++
			}
		}
		if dashed == 0 || dashed*2 != count(charts[i], "polyline") {
			t.Errorf("chart %d: %d dashed of %d lines, want half", i, dashed, count(charts[i], "polyline"))
		}
	}
	for i := 2; i < 4; i++ {
		if n := count(charts[i], "polyline"); n != 2 {
			t.Errorf("chart %d: %d lines, want one per run", i, n)
		}
	}
	fills := map[string]bool{}
	for _, e := range charts[4] {
		if e.name == "rect" && e.attrs["class"] == "bar" {
			fills[e.attrs["fill"]] = true
		}
	}
	if len(fills) != 2 {
		t.Errorf("histogram bars in %d colours, want 2", len(fills))
	}
	if !strings.Contains(page, `class="differs"`) {
		t.Errorf("no summary row marked as differing between seeds")
	}
}

func TestWriteEmpty(t *testing.T) {
	page := write(t, "empty", Run{Name: "nothing", Result: &sim.Result{Scenario: "none"}})
	checkSelfContained(t, page)
	charts := parseCharts(t, page)
	if len(charts) != chartCount {
		t.Fatalf("%d charts, want %d", len(charts), chartCount)
	}
	for i, c := range charts {
		if n := count(c, "polyline") + count(c, "polygon"); n != 0 {
			t.Errorf("chart %d: %d series drawn without data", i, n)
		}
	}
	if !strings.Contains(texts(charts[0]), "no samples") || !strings.Contains(texts(charts[4]), "no container started") {
		t.Errorf("empty charts do not say so")
	}
	if err := Write(io.Discard, "x", nil); err == nil {
		t.Errorf("Write with no runs: no error")
	}
	if err := Write(io.Discard, "x", []Run{{Name: "nil"}}); err == nil {
		t.Errorf("Write with a nil result: no error")
	}
}

func TestHistogramOverflow(t *testing.T) {
	waits := make([]time.Duration, 200)
	for i := range waits {
		waits[i] = time.Duration(i) * time.Second
	}
	waits[199] = 10 * time.Hour // one long tail
	h := &waitHist{runs: []histRun{{name: "r", color: "#000", waits: waits}}}
	out := h.svg()
	if !strings.Contains(out, "≥ ") || !strings.Contains(out, "longest 10h") {
		t.Errorf("long tail not in an overflow bar:\n%s", out)
	}
}

func TestPath(t *testing.T) {
	p := func(m int, v float64) point { return point{time.Duration(m) * time.Minute, v} }
	pts := []point{p(0, 1), p(1, 1), p(2, 1), p(3, 2), p(4, 2), p(5, 0)}
	got := path(pts, true, time.Hour)
	want := []point{p(0, 1), p(3, 1), p(3, 2), p(5, 2), p(5, 0)}
	if !equalPoints(got, want) {
		t.Errorf("step path = %v, want %v", got, want)
	}
	got = path(pts, false, time.Hour)
	want = []point{p(0, 1), p(2, 1), p(3, 2), p(4, 2), p(5, 0)}
	if !equalPoints(got, want) {
		t.Errorf("linear path = %v, want %v", got, want)
	}
	if got := path([]point{p(1, 3)}, true, time.Hour); !equalPoints(got, []point{p(1, 3), p(60, 3)}) {
		t.Errorf("single point not held to the end: %v", got)
	}
}

func equalPoints(a, b []point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
