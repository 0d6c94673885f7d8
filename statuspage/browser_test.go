package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/mgmt"
	"github.com/vmdispatch/vmdispatch/statuspage"
	"github.com/vmdispatch/vmdispatch/statuspage/browsertest"
	"github.com/vmdispatch/vmdispatch/stubcluster"
)

const managementToken = "management-token-for-the-status-page-test"

// chromium returns the path of a headless-capable Chromium, or skips
// the test (fails it in CI, where .ci/run installs one).
func chromium(t *testing.T) string {
	t.Helper()
	if p := browsertest.Chromium(); p != "" {
		return p
	}
	if browsertest.InCI() {
		t.Fatal("chromium is not installed; .ci/run should have installed it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: skipping the browser test (apt-get install -y chromium to run it)")
	return ""
}

// longRuns keeps every container running for the whole test, so the VMs
// stay busy and the drained one stays listed.
type longRuns struct{}

// fastConfig is stubcluster.FastConfig with VMs that stay: the idle
// timeout is long and at most two VMs run, so some containers wait.
func fastConfig() engine.Config {
	cfg := stubcluster.FastConfig()
	cfg.Containers.CloudVMs.TimeoutIdle = time.Hour
	cfg.Containers.CloudVMs.MaxInstances = 2
	return cfg
}

func (longRuns) Run(string) (time.Duration, int) { return time.Hour, 0 }

// instanceList is the part of GET /arvados/v1/dispatch/instances the
// test reads.
type instanceList struct {
	Items []struct {
		Instance     string `json:"instance"`
		WorkerState  string `json:"worker_state"`
		IdleBehavior string `json:"idle_behavior"`
	} `json:"items"`
}

// getInstances reads the management API as any client would.
func getInstances(ctx context.Context, url string) (instanceList, error) {
	var list instanceList
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/arvados/v1/dispatch/instances", nil)
	if err != nil {
		return list, err
	}
	req.Header.Set("Authorization", "Bearer "+managementToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return list, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return list, fmt.Errorf("GET instances: %s", resp.Status)
	}
	return list, json.NewDecoder(resp.Body).Decode(&list)
}

// startDispatcher runs the stub cluster, the live shell and the real
// management API serving the page, with four 2-VCPU containers queued
// and room for two small VMs: two run, two wait. It returns the server's
// URL once a VM runs a container, so the page has rows to show and a
// drained VM stays listed (a drained idle VM shuts down at once).
func startDispatcher(t *testing.T, ctx context.Context) (string, *stubcluster.Cluster) {
	t.Helper()
	cluster, err := stubcluster.Start(stubcluster.Config{Cluster: fastConfig(), Seed: 1, Workload: longRuns{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	if _, err := cluster.AddContainers(1, 4, 2, 1<<30, 1); err != nil {
		t.Fatal(err)
	}
	lc, err := cluster.ShellConfig()
	if err != nil {
		t.Fatal(err)
	}
	shell, err := live.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	shellCtx, stopShell := context.WithCancel(ctx)
	shellDone := make(chan error, 1)
	go func() { shellDone <- shell.Run(shellCtx) }()
	t.Cleanup(func() {
		stopShell()
		if err := <-shellDone; err != nil {
			t.Errorf("shell: %v", err)
		}
	})

	srv := httptest.NewServer(mgmt.New(mgmt.Config{
		Token:      managementToken,
		Dispatcher: shell,
		UI:         statuspage.Handler(),
	}))
	t.Cleanup(srv.Close)

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for running := false; !running; {
		select {
		case <-ctx.Done():
			t.Fatal("no VM came to run a container")
		case <-tick.C:
		}
		list, err := getInstances(ctx, srv.URL)
		for _, it := range list.Items {
			running = running || (err == nil && it.WorkerState == "running")
		}
	}
	return srv.URL, cluster
}

// TestStatusPageInChromium drives the page in headless Chromium in
// front of the real management API, the live shell and the stub
// cluster: a wrong token, the right one, the tables, Drain.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url, _ := startDispatcher(t, ctx)

	rep, err := browsertest.CheckInBrowser(ctx, bin, url+"/", managementToken)
	if dir := os.Getenv("STATUSPAGE_SCREENSHOT_DIR"); dir != "" && rep.Screenshot != nil {
		if err := os.WriteFile(filepath.Join(dir, "statuspage.png"), rep.Screenshot, 0o666); err != nil {
			t.Error(err)
		}
	}
	shot := rep.Screenshot
	rep.Screenshot = nil
	t.Logf("report: %+v", rep)
	if shot == nil {
		t.Error("no screenshot")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.RejectMessage, "403") {
		t.Errorf("after a wrong token the page says %q, want the server's 403", rep.RejectMessage)
	}
	if len(rep.Containers) != 4 {
		t.Errorf("%d container rows, want 4", len(rep.Containers))
	}
	killable := 0
	for _, c := range rep.Containers {
		if c.Killable {
			killable++
		}
	}
	if killable == 0 || killable == len(rep.Containers) {
		t.Errorf("%d of %d containers have a Kill button, want the running ones only", killable, len(rep.Containers))
	}
	if rep.Summary["queue_length"] != "4" {
		t.Errorf("summary queue length %q, want 4", rep.Summary["queue_length"])
	}
	if rep.AfterDrain.IdleBehavior != "drain" {
		t.Errorf("drained row: %+v", rep.AfterDrain)
	}

	// The page showed what the server has.
	list, err := getInstances(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range list.Items {
		if it.Instance == rep.Drained {
			found = true
			if it.IdleBehavior != "drain" {
				t.Errorf("server says instance %s has idle_behavior %q, want drain", it.Instance, it.IdleBehavior)
			}
		}
	}
	if !found {
		t.Errorf("server does not list the drained instance %s", rep.Drained)
	}
}

// TestKillContainerAsksForReason clicks Kill on a running container:
// the page asks for a reason, Cancel sends nothing, and Kill with a
// reason stops the container, which leaves the queue.
func TestKillContainerAsksForReason(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url, cluster := startDispatcher(t, ctx)

	bctx, stop, err := browsertest.NewBrowser(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, browsertest.StepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll := func(what, predicate string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, browsertest.StepTimeout)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Poll[string](predicate, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return v
	}

	do("loading the page", chromedp.Navigate(url+"/"))
	if err := browsertest.SignIn(bctx, managementToken); err != nil {
		t.Fatal(err)
	}
	uuid := poll("a killable container", `(() => {
		const b = [...document.querySelectorAll('#containers button[data-action="kill"]')].find((b) => !b.hidden);
		return b ? b.closest("tr").dataset.container : ""; })()`)
	kill := chromedp.CSS(`tr[data-container="` + uuid + `"] button[data-action="kill"]`)
	dialogOpen := `document.getElementById("kill-dialog").open ? "open" : ""`
	dialogClosed := `document.getElementById("kill-dialog").open ? "" : "closed"`

	do("clicking Kill", chromedp.Click(kill))
	poll("the kill dialog", dialogOpen)
	if title := poll("the dialog's title", `document.getElementById("kill-title").textContent`); !strings.Contains(title, uuid) {
		t.Errorf("kill dialog title %q does not name %s", title, uuid)
	}
	do("cancelling", chromedp.Click(chromedp.ID("kill-cancel")))
	poll("the dialog to close", dialogClosed)

	// Kill with no reason is refused by the form; with one it goes.
	do("clicking Kill again", chromedp.Click(kill))
	poll("the kill dialog", dialogOpen)
	do("confirming with no reason", chromedp.Click(chromedp.ID("kill-confirm")))
	poll("the dialog to stay open", dialogOpen)
	do("giving a reason",
		chromedp.SendKeys(chromedp.ID("kill-reason"), "status page test"),
		chromedp.Click(chromedp.ID("kill-confirm")),
	)
	poll("the dialog to close", dialogClosed)
	status := poll("the container to leave the queue", `(() => {
		if (document.querySelector('tr[data-container="`+uuid+`"]')) return "";
		return document.getElementById("action-status").textContent; })()`)
	if !strings.Contains(status, "done") {
		t.Errorf("status after the kill: %q", status)
	}

	c, err := cluster.Store.Get(uuid)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != engine.Cancelled {
		t.Errorf("container %s is %s after the kill, want Cancelled", uuid, c.State)
	}
}
