package arvclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/vmdispatch/vmdispatch/engine"
)

// DefaultQueuedTarget is Config.QueuedTarget when left at zero: the
// reference's queuedContainersTarget (§3.2).
const DefaultQueuedTarget = 100

const (
	// requestTimeout bounds a request whose context has no deadline: a
	// hung API server must not hang the shell forever. Callers normally
	// set shorter deadlines per request.
	requestTimeout = 5 * time.Minute
	// maxBody caps what is read of one response: a page of 1,000
	// containers is a few megabytes.
	maxBody = 256 << 20
	// snippetLen is how much of an unexpected (non-JSON) error body an
	// error message quotes.
	snippetLen = 200
)

// Config configures a Client.
type Config struct {
	// Host is the API server as ARVADOS_API_HOST spells it: "host" or
	// "host:port", no scheme (always https).
	Host string
	// Token is the dispatcher's API token (SystemRootToken).
	Token string
	// Insecure skips TLS certificate verification
	// (ARVADOS_API_HOST_INSECURE). It applies to the default HTTP client
	// only: New refuses it together with HTTPClient.
	Insecure bool
	// HTTPClient sends the requests; nil means one with sensible
	// timeouts. Per-request deadlines come from the caller's context.
	HTTPClient *http.Client
	// Logger receives failures and queue events; nil discards them.
	Logger *slog.Logger
	// QueuedTarget stops paging the queued containers once this many
	// non-supervisor containers have been seen; 0 means
	// DefaultQueuedTarget.
	QueuedTarget int
}

// Client talks to one Arvados API server with one token. It is safe for
// concurrent use (see the package contract for Poll).
type Client struct {
	base   string // "https://host:port/"
	token  string
	hc     *http.Client
	log    *slog.Logger
	target int

	requests atomic.Int64

	authMu   sync.Mutex
	authUUID string

	// pollMu serialises polls and guards the poll memory below.
	pollMu sync.Mutex
	// prev is the state of every container in the last successful answer.
	prev map[string]engine.ContainerState
	// mounts holds the tmp mounts of every container in the last
	// successful answer (nil map: fetched, none). A container absent here
	// has not had its mounts fetched yet.
	mounts map[string]map[string]engine.Mount
}

// New returns a Client for cfg, or an error saying what is wrong with it.
func New(cfg Config) (*Client, error) {
	if err := checkHost(cfg.Host); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("arvclient: Token is required")
	}
	if strings.ContainsFunc(cfg.Token, unicode.IsSpace) {
		return nil, errors.New("arvclient: Token must not contain white space")
	}
	if cfg.QueuedTarget < 0 {
		return nil, fmt.Errorf("arvclient: QueuedTarget must not be negative, not %d", cfg.QueuedTarget)
	}
	hc := cfg.HTTPClient
	switch {
	case hc != nil && cfg.Insecure:
		return nil, errors.New("arvclient: Insecure has no effect on a given HTTPClient; configure its transport instead")
	case hc == nil:
		hc = defaultHTTPClient(cfg.Insecure)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target := cfg.QueuedTarget
	if target == 0 {
		target = DefaultQueuedTarget
	}
	return &Client{
		base:   "https://" + cfg.Host + "/",
		token:  cfg.Token,
		hc:     hc,
		log:    log,
		target: target,
		prev:   map[string]engine.ContainerState{},
		mounts: map[string]map[string]engine.Mount{},
	}, nil
}

// checkHost accepts what ARVADOS_API_HOST may hold: a host name or
// address with an optional port, and nothing else.
func checkHost(host string) error {
	switch {
	case host == "":
		return errors.New("arvclient: Host is required (ARVADOS_API_HOST, e.g. \"zzzzz.example.com:443\")")
	case strings.Contains(host, "://"):
		return fmt.Errorf("arvclient: Host %q must be host[:port] without a scheme (https is implied)", host)
	}
	u, err := url.Parse("https://" + host)
	if err != nil || u.Host != host || u.Hostname() == "" || u.User != nil {
		return fmt.Errorf("arvclient: Host %q is not a valid host[:port]", host)
	}
	return nil
}

func defaultHTTPClient(insecure bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Room for the parallel mounts fetches and a lock or two beside them.
	tr.MaxIdleConnsPerHost = 2 * mountsParallel
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return &http.Client{
		Transport: tr,
		Timeout:   requestTimeout,
		// The API never redirects; following one would hide a
		// misconfigured Host behind a confusing decode error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Requests returns the number of HTTP requests sent so far, failed ones
// included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// AuthUUID returns the UUID of the client's token (GET
// arvados/v1/api_client_authorizations/current): containers locked by the
// dispatcher carry it in locked_by_uuid. The first success is cached.
func (c *Client) AuthUUID(ctx context.Context) (string, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.authUUID != "" {
		return c.authUUID, nil
	}
	var auth struct {
		UUID string `json:"uuid"`
	}
	const path = "arvados/v1/api_client_authorizations/current"
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &auth); err != nil {
		return "", err
	}
	if auth.UUID == "" {
		return "", c.badResponse(http.MethodGet, path, nil, http.StatusOK, "no uuid in the current token's record")
	}
	c.authUUID = auth.UUID
	return auth.UUID, nil
}

// do sends one request and decodes a 200 answer's JSON into dst. query
// holds URL parameters; body, if not nil, is sent as JSON. Any failure is
// logged and returned as an *engine.APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, dst any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return c.fail(method, path, 0, fmt.Sprintf("encoding request: %v", err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return c.fail(method, path, 0, err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.fail(method, path, 0, transportError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		// The status came, the answer did not: as good as no answer.
		return c.fail(method, path, 0, fmt.Sprintf("reading response (status %d): %v", resp.StatusCode, transportError(err)))
	case len(data) > maxBody:
		return c.fail(method, path, resp.StatusCode, fmt.Sprintf("response larger than %d bytes", maxBody))
	case resp.StatusCode != http.StatusOK:
		return c.fail(method, path, resp.StatusCode, errorMessage(resp, data))
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return c.fail(method, path, resp.StatusCode, fmt.Sprintf("decoding response: %v", err))
	}
	return nil
}

// transportError is err's text without the request URL that *url.Error
// prefixes: the URL is logged separately and holds nothing secret, but
// repeating it makes messages long.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// errorMessage is what a refusal says: the Arvados {"errors":[...]}
// joined, or the status and the start of whatever else came (an HTML page
// from a proxy, say).
func errorMessage(resp *http.Response, data []byte) string {
	var arv struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(data, &arv) == nil && len(arv.Errors) > 0 {
		return strings.Join(arv.Errors, "; ")
	}
	msg := resp.Status
	if s := strings.Join(strings.Fields(string(data[:min(len(data), snippetLen)])), " "); s != "" {
		msg += fmt.Sprintf(" (%s): %s", resp.Header.Get("Content-Type"), s)
	}
	return msg
}

// fail logs a failed request and returns it as an *engine.APIError.
func (c *Client) fail(method, path string, status int, msg string) *engine.APIError {
	c.log.Warn("API request failed", "method", method, "path", path, "status", status, "error", msg)
	return &engine.APIError{Status: status, Message: msg}
}

// badResponse reports a 200 answer whose content cannot be right, with
// the request that got it.
func (c *Client) badResponse(method, path string, query url.Values, status int, msg string) *engine.APIError {
	attrs := []any{"method", method, "path", path}
	if len(query) > 0 {
		// Unescaped, so that the filters read as sent.
		q, err := url.QueryUnescape(query.Encode())
		if err != nil {
			q = query.Encode()
		}
		attrs = append(attrs, "query", q)
	}
	c.log.Error("bad API response", append(attrs, "status", status, "error", msg)...)
	return &engine.APIError{Status: status, Message: msg}
}
