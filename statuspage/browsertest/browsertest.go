// Package browsertest drives the status page in a real headless Chromium,
// as an operator would: it signs in with a wrong token, then the right
// one, reads the tables, clicks Drain and waits for the page to show the
// server's answer. Tests run it against a test server, and the same
// check runs against `vmdispatch serve --demo`.
//
// It imports chromedp, so only tests and test tools import it; the
// daemon's binary does not.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// StepTimeout bounds each wait for the page (rows to appear, the drain to
// show). The page refreshes every 5 seconds, so this leaves several
// refreshes for the server to answer.
const StepTimeout = 30 * time.Second

// WindowWidth is the browser window's width: the page must fit it.
const WindowWidth = 1000

// tokenKey is where the page keeps the token (sessionStorage).
const tokenKey = "vmdispatch.managementToken"

// Report is what the page showed during CheckInBrowser.
type Report struct {
	// RejectMessage is what the sign-in form said after a wrong token.
	RejectMessage string
	// Instances and Containers are the tables' rows once both had rows.
	Instances  []InstanceRow
	Containers []ContainerRow
	// Summary is the summary line's fields, by data-field name.
	Summary map[string]string
	// Drained is the instance whose Drain button was clicked, and
	// AfterDrain its row once the page showed idle behaviour "drain".
	Drained    string
	AfterDrain InstanceRow
	// ActionStatus and LastRefresh are the status line's two parts at
	// the end.
	ActionStatus string
	LastRefresh  string
	// ScrollWidth is the page's width as laid out in a WindowWidth-wide
	// window.
	ScrollWidth int
	// Console holds the page's errors and exceptions (network errors
	// excepted: a wrong token's 403 is one).
	Console []string
	// Screenshot is a PNG of the whole page after the drain, for a
	// person to look at.
	Screenshot []byte
}

// InstanceRow is one row of the instances table, cell by cell.
type InstanceRow struct {
	ID           string   `json:"id"`
	State        string   `json:"worker_state"`
	Type         string   `json:"instance_type"`
	IdleBehavior string   `json:"idle_behavior"`
	Containers   string   `json:"running_container_uuids"`
	Price        string   `json:"price"`
	LastBusy     string   `json:"last_busy"`
	Actions      []string `json:"actions"`
}

// ContainerRow is one row of the container queue table, cell by cell.
type ContainerRow struct {
	UUID             string `json:"uuid"`
	State            string `json:"state"`
	Priority         string `json:"priority"`
	InstanceTypes    string `json:"instance_types"`
	SchedulingStatus string `json:"scheduling_status"`
	FirstSeen        string `json:"first_seen_at"`
	Instance         string `json:"instance"`
	// Killable: the row shows a Kill button.
	Killable bool `json:"killable"`
}

// Chromium returns the path of a Chromium or Chrome binary on PATH, or
// "" if there is none.
func Chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// CheckInBrowser opens pageURL (the status page, GET /) in a headless
// Chromium at chromiumPath and checks, in order, that:
//
//  1. a wrong token is refused: the sign-in form comes back with the
//     server's message and no table row is shown;
//  2. with token, instance rows (with an ID) and container rows appear;
//  3. the token is in sessionStorage only: not in the DOM, the URL,
//     localStorage or a cookie;
//  4. clicking Drain on the first instance (the first running one, if
//     any: an idle one may vanish as soon as it is drained) makes its
//     row say idle behaviour "drain", as read back from the server;
//  5. the page fits the window's width and logged no script error.
//
// It returns what it saw, as far as it got, and the first failed check.
// Drain is a real operator action: the instance shuts down once idle.
func CheckInBrowser(ctx context.Context, chromiumPath, pageURL, token string) (Report, error) {
	var rep Report
	bctx, cancelBrowser, err := NewBrowser(ctx, chromiumPath)
	if err != nil {
		return rep, err
	}
	defer cancelBrowser()

	// The console subscription runs until the browser's context ends.
	var (
		mu      sync.Mutex
		console []string
	)
	messages := chromedp.Console(bctx)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if (m.Type == chromedp.ConsoleError || m.IsException()) && m.Source != "network" {
				mu.Lock()
				console = append(console, m.String())
				mu.Unlock()
			}
		}
	}()
	defer func() {
		cancelBrowser()
		<-consoleDone
	}()
	consoleErrors := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), console...)
	}

	step := func(what string, steps ...chromedp.Action[chromedp.Void]) error {
		sctx, cancel := context.WithTimeout(bctx, StepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			return fmt.Errorf("%s: %w%s", what, err, diagnose(bctx, consoleErrors()))
		}
		return nil
	}
	wait := func(what, predicate string) (string, error) {
		sctx, cancel := context.WithTimeout(bctx, StepTimeout)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Poll[string](predicate,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(StepTimeout)))
		if err != nil {
			return "", fmt.Errorf("waiting for %s: %w%s", what, err, diagnose(bctx, consoleErrors()))
		}
		return v, nil
	}

	// 1. A wrong token.
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		return rep, fmt.Errorf("loading %s: %w", pageURL, err)
	}
	if err := SignIn(bctx, "not-"+token); err != nil {
		return rep, fmt.Errorf("signing in with a wrong token: %w%s", err, diagnose(bctx, consoleErrors()))
	}
	msg, err := wait("the page to refuse the wrong token",
		`(() => { const m = document.getElementById("login-message").textContent;
			return !document.getElementById("login").hidden && m !== "" ? m : ""; })()`)
	if err != nil {
		return rep, err
	}
	rep.RejectMessage = msg
	shown, err := evaluate[int](bctx, `document.querySelectorAll("tr[data-instance], tr[data-container]").length`)
	if err != nil {
		return rep, err
	}
	if shown != 0 {
		return rep, fmt.Errorf("with a wrong token the page shows %d table rows, want none", shown)
	}
	kept, err := evaluate[bool](bctx, `sessionStorage.getItem(`+jsString(tokenKey)+`) !== null`)
	if err != nil {
		return rep, err
	}
	if kept {
		return rep, errors.New("the page kept the refused token in sessionStorage")
	}

	// 2. The right token.
	if err := SignIn(bctx, token); err != nil {
		return rep, fmt.Errorf("signing in: %w%s", err, diagnose(bctx, consoleErrors()))
	}
	if _, err := wait("instance and container rows",
		`document.querySelectorAll('#instances tr[data-instance]:not([data-instance=""])').length > 0 &&
		 document.querySelectorAll("#containers tr[data-container]").length > 0 ? "yes" : ""`); err != nil {
		return rep, err
	}
	if err := readTables(bctx, &rep); err != nil {
		return rep, err
	}

	// 3. Where the token is.
	if err := checkToken(bctx, token); err != nil {
		return rep, err
	}

	// 4. Drain.
	target := ""
	for _, r := range rep.Instances {
		if r.ID != "" && (target == "" || r.State == "running") {
			target = r.ID
			if r.State == "running" {
				break
			}
		}
	}
	rep.Drained = target
	row := `tr[data-instance=` + cssString(target) + `]`
	if err := step("clicking Drain on "+target,
		chromedp.Click(chromedp.CSS(row+` button[data-action="drain"]`)),
	); err != nil {
		return rep, err
	}
	got, err := wait("instance "+target+" to show idle behaviour drain",
		`(() => { const tr = document.querySelector(`+jsString(row)+`);
			if (!tr) return "gone";
			return tr.querySelector('[data-field="idle_behavior"]').textContent === "drain" ? "drain" : ""; })()`)
	if err != nil {
		return rep, err
	}
	if got == "gone" {
		return rep, fmt.Errorf("instance %s's row vanished before the page showed it draining", target)
	}
	after := rep
	if err := readTables(bctx, &after); err != nil {
		return rep, err
	}
	for _, r := range after.Instances {
		if r.ID == target {
			rep.AfterDrain = r
		}
	}
	rep.ActionStatus, rep.LastRefresh = after.ActionStatus, after.LastRefresh
	if err := checkToken(bctx, token); err != nil {
		return rep, err
	}

	if shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		rep.Screenshot = shot
	}

	// 5. Layout and script errors.
	rep.ScrollWidth, err = evaluate[int](bctx, `document.documentElement.scrollWidth`)
	if err != nil {
		return rep, err
	}
	client, err := evaluate[int](bctx, `document.documentElement.clientWidth`)
	if err != nil {
		return rep, err
	}
	if rep.ScrollWidth > client {
		return rep, fmt.Errorf("the page is %dpx wide in a %dpx window", rep.ScrollWidth, client)
	}
	rep.Console = consoleErrors()
	if len(rep.Console) > 0 {
		return rep, fmt.Errorf("the page logged errors:\n%s", strings.Join(rep.Console, "\n"))
	}
	return rep, nil
}

// NewBrowser starts a headless Chromium at chromiumPath, with a
// WindowWidth-wide window and no network but what the page asks for, and
// returns its chromedp context (one tab). The browser stops when cancel
// is called or ctx ends; actions may run on contexts derived from the
// returned one with shorter deadlines.
func NewBrowser(ctx context.Context, chromiumPath string) (context.Context, context.CancelFunc, error) {
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(WindowWidth, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	cancel := func() {
		cancelBrowser()
		cancelAlloc()
	}
	// The first action starts the browser, which lives as long as that
	// action's context: give it bctx itself, not a shorter one.
	if err := chromedp.Do(bctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("starting %s: %w", chromiumPath, err)
	}
	return bctx, cancel, nil
}

// SignIn types token into the page's sign-in form and submits it. The
// page must be loaded.
func SignIn(ctx context.Context, token string) error {
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	return chromedp.Do(sctx,
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("sign-in")),
	)
}

// readTables reads the tables, the summary and the status line.
func readTables(ctx context.Context, rep *Report) error {
	const read = `JSON.stringify((() => {
		const text = (tr, f) => { const c = tr.querySelector('[data-field="' + f + '"]'); return c ? c.textContent : ""; };
		const visible = (b) => !b.hidden;
		const summary = {};
		for (const el of document.querySelectorAll("#summary [data-field]")) summary[el.dataset.field] = el.textContent;
		return {
			instances: [...document.querySelectorAll("#instances tbody tr")].map((tr) => ({
				id: tr.dataset.instance,
				worker_state: text(tr, "worker_state"),
				instance_type: text(tr, "instance_type"),
				idle_behavior: text(tr, "idle_behavior"),
				running_container_uuids: text(tr, "running_container_uuids"),
				price: text(tr, "price"),
				last_busy: text(tr, "last_busy"),
				actions: [...tr.querySelectorAll("button[data-action]")].filter(visible).map((b) => b.dataset.action),
			})),
			containers: [...document.querySelectorAll("#containers tbody tr")].map((tr) => ({
				uuid: tr.dataset.container,
				state: text(tr, "state"),
				priority: text(tr, "priority"),
				instance_types: text(tr, "instance_types"),
				scheduling_status: text(tr, "scheduling_status"),
				first_seen_at: text(tr, "first_seen_at"),
				instance: text(tr, "instance"),
				killable: [...tr.querySelectorAll('button[data-action="kill"]')].some(visible),
			})),
			summary,
			action_status: document.getElementById("action-status").textContent,
			last_refresh: document.getElementById("last-refresh").textContent,
		};
	})())`
	raw, err := evaluate[string](ctx, read)
	if err != nil {
		return err
	}
	var page struct {
		Instances    []InstanceRow     `json:"instances"`
		Containers   []ContainerRow    `json:"containers"`
		Summary      map[string]string `json:"summary"`
		ActionStatus string            `json:"action_status"`
		LastRefresh  string            `json:"last_refresh"`
	}
	if err := json.Unmarshal([]byte(raw), &page); err != nil {
		return fmt.Errorf("reading the tables: %w", err)
	}
	rep.Instances, rep.Containers, rep.Summary = page.Instances, page.Containers, page.Summary
	rep.ActionStatus, rep.LastRefresh = page.ActionStatus, page.LastRefresh
	return nil
}

// checkToken checks that the token is in sessionStorage and nowhere else
// the page could leak it from.
func checkToken(ctx context.Context, token string) error {
	raw, err := evaluate[string](ctx, `JSON.stringify({
		session: sessionStorage.getItem(`+jsString(tokenKey)+`) === `+jsString(token)+`,
		dom: document.documentElement.outerHTML.includes(`+jsString(token)+`),
		input: document.getElementById("token").value,
		url: location.href.includes(`+jsString(token)+`),
		local: localStorage.length,
		cookie: document.cookie,
	})`)
	if err != nil {
		return err
	}
	var where struct {
		Session, DOM, URL bool
		Input, Cookie     string
		Local             int
	}
	if err := json.Unmarshal([]byte(raw), &where); err != nil {
		return err
	}
	switch {
	case !where.Session:
		return errors.New("the token is not in sessionStorage")
	case where.DOM:
		return errors.New("the token is in the DOM")
	case where.Input != "":
		return errors.New("the token input still holds the token")
	case where.URL:
		return errors.New("the token is in the URL")
	case where.Local != 0:
		return errors.New("the page wrote to localStorage")
	case where.Cookie != "":
		return fmt.Errorf("the page has cookies: %q", where.Cookie)
	}
	return nil
}

// evaluate runs a JavaScript expression, bounded by StepTimeout.
func evaluate[T any](ctx context.Context, expr string) (T, error) {
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	return chromedp.Run(sctx, chromedp.Evaluate[T](expr))
}

// diagnose describes the page's state for an error message.
func diagnose(ctx context.Context, console []string) string {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(dctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.pathname,
		error: (document.getElementById("error") || {}).textContent,
		login: (document.getElementById("login-message") || {}).textContent,
		status: (document.getElementById("status") || {}).textContent,
		instances: document.querySelectorAll("tr[data-instance]").length,
		containers: document.querySelectorAll("tr[data-container]").length,
	})`))
	if err != nil {
		s = "(page state unreadable: " + err.Error() + ")"
	}
	out := "\npage: " + s
	if len(console) > 0 {
		out += "\nconsole:\n" + strings.Join(console, "\n")
	}
	return out
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cssString quotes s as a CSS string, for an attribute selector.
func cssString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\%x ", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// InCI reports whether the tests run in CI, where a missing Chromium is
// a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") != "" }
