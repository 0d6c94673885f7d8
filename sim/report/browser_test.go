package report

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// renderCheck runs in the browser after the page loads: for each chart it
// counts the drawn data elements that have a size on screen, and writes
// the counts into the DOM for --dump-dom. It is added by the test only;
// reports carry no script.
const renderCheck = `<script>
addEventListener("load", () => {
  const visible = (el) => { const b = el.getBBox(); return b.width > 0 || b.height > 0; };
  const charts = [...document.querySelectorAll("svg")].map((svg) => ({
    width: svg.getBoundingClientRect().width,
    polylines: [...svg.querySelectorAll("polyline")].filter(visible).length,
    areas: [...svg.querySelectorAll("polygon")].filter(visible).length,
    bars: [...svg.querySelectorAll("rect.bar")].filter(visible).length,
  }));
  const pre = document.createElement("pre");
  pre.id = "render-check";
  pre.textContent = JSON.stringify(charts);
  document.body.appendChild(pre);
});
</script>
</body>`

// chromium returns the path of a headless-capable Chromium, or skips
// the test (fails it in CI, where .ci/run installs one).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run should have installed it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: skipping the browser test (apt-get install -y chromium to run it)")
	return ""
}

func TestReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	r := runScenario(t, "../../scenarios/chaos.yaml", 0)
	var b strings.Builder
	if err := Write(&b, "chaos", []Run{{Name: "chaos", Result: r}}); err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(b.String(), "</body>", renderCheck, 1)
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, []byte(page), 0o666); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1000,1000",
		"--dump-dom", "file://"+file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", bin, err, stderr.String())
	}
	m := regexp.MustCompile(`<pre id="render-check">(.*?)</pre>`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the page did not report its charts (the script did not run?)\nDOM:\n%.2000s\nstderr:\n%.2000s", out, stderr.String())
	}
	var charts []struct {
		Width                  float64
		Polylines, Areas, Bars int
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &charts); err != nil {
		t.Fatalf("render check %q: %v", m[1], err)
	}
	t.Logf("charts as rendered: %+v", charts)
	if len(charts) != chartCount {
		t.Fatalf("%d charts rendered, want %d", len(charts), chartCount)
	}
	for i, c := range charts {
		if c.Width < 100 {
			t.Errorf("chart %d is %.0fpx wide", i, c.Width)
		}
	}
	// VMs and queue: stacked areas with their edges; costs: a line each.
	for i, c := range charts[:2] {
		if c.Areas == 0 || c.Polylines == 0 {
			t.Errorf("chart %d: %d areas and %d lines drawn, want some of each", i, c.Areas, c.Polylines)
		}
	}
	for i, c := range charts[2:4] {
		if c.Polylines != 1 {
			t.Errorf("chart %d: %d lines drawn, want 1", i+2, c.Polylines)
		}
	}
	if charts[4].Bars < 5 {
		t.Errorf("wait histogram: %d bars drawn, want several", charts[4].Bars)
	}
}
