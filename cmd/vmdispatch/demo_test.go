package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/statuspage/browsertest"
)

// TestDemoStatusPageInChromium runs `vmdispatch serve --demo` (ten times
// faster) and drives its status page in real headless Chromium: the page
// loads, rows appear, and a click on Drain changes the instance's idle
// behaviour.
func TestDemoStatusPageInChromium(t *testing.T) {
	bin := browsertest.Chromium()
	if bin == "" {
		if browsertest.InCI() {
			t.Fatal("chromium is not installed; .ci/run should have installed it")
		}
		t.Skip("chromium is not installed: skipping the browser test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runDemo(ctx, "127.0.0.1:0", 10, w, io.Discard, slog.New(slog.DiscardHandler))
		w.Close()
	}()
	var pageURL, token string
	lines := bufio.NewScanner(out)
	for (pageURL == "" || token == "") && lines.Scan() {
		line := lines.Text()
		if v, ok := strings.CutPrefix(line, "status page:"); ok {
			pageURL = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "management token:"); ok {
			token = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, out)
	if pageURL == "" || token == "" {
		t.Fatalf("the demo did not print the status page URL and token (url %q)", pageURL)
	}
	rep, err := browsertest.CheckInBrowser(ctx, bin, pageURL, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d instances, %d containers; drained %s: %+v", len(rep.Instances), len(rep.Containers), rep.Drained, rep.AfterDrain)
	if rep.AfterDrain.IdleBehavior != "drain" {
		t.Errorf("after clicking Drain, the row says %q", rep.AfterDrain.IdleBehavior)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve --demo exited %d after its context ended, want 0", code)
	}
}
