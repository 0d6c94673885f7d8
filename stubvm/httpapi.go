package stubvm

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// defaultHTTPTimeout bounds each API call of an HTTPAPI without a Client.
const defaultHTTPTimeout = 10 * time.Second

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// HTTPAPI is the API as crunch-run reaches it: HTTPS to cred.Host
// ("host:port", no scheme) with "Authorization: Bearer <token>";
// cred.Insecure skips certificate verification. Use it through a pointer;
// the zero value is ready to use and safe for concurrent use.
type HTTPAPI struct {
	// Client is the base client, used as is for verified connections.
	// Insecure ones use a copy whose *http.Transport skips certificate
	// verification (a Transport of another type is used as is). Nil
	// means a client with a 10 s timeout; a Client without a Timeout may
	// block a VM (see Server) for as long as the API server hangs.
	Client *http.Client

	once             sync.Once
	secure, insecure *http.Client
}

// APIError is a non-2xx answer from the Arvados API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the server's "errors" list joined with "; ", or the
	// start of the body if it had none.
	Message string
}

// Error returns the status and the message.
func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Container implements API: GET /arvados/v1/containers/<uuid>.
func (a *HTTPAPI) Container(cred Credentials, uuid string) (engine.Container, error) {
	var ctr engine.Container
	err := a.call(cred, http.MethodGet, uuid, nil, &ctr)
	return ctr, err
}

// UpdateState implements API: PUT /arvados/v1/containers/<uuid> with
// {"container":{"state":...,"exit_code":...}}.
func (a *HTTPAPI) UpdateState(cred Credentials, uuid string, state engine.ContainerState, exitCode *int) error {
	type attrs struct {
		State    engine.ContainerState `json:"state"`
		ExitCode *int                  `json:"exit_code,omitempty"`
	}
	body, err := json.Marshal(struct {
		Container attrs `json:"container"`
	}{attrs{state, exitCode}})
	if err != nil {
		return err
	}
	return a.call(cred, http.MethodPut, uuid, body, nil)
}

// call sends one request about container uuid and decodes a 2xx answer
// into out, if not nil.
func (a *HTTPAPI) call(cred Credentials, method, uuid string, body []byte, out any) error {
	if cred.Host == "" || strings.ContainsAny(cred.Host, "/?#@") {
		return fmt.Errorf("stubvm: bad ARVADOS_API_HOST %q", cred.Host)
	}
	u := "https://" + cred.Host + "/arvados/v1/containers/" + url.PathEscape(uuid)
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cred.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client(cred.Insecure).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %w", method, u, apiError(resp))
	}
	if out == nil {
		// Drain, so the connection can be reused.
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, u, err)
	}
	return nil
}

// apiError reads a non-2xx response into an *APIError.
func apiError(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Status: resp.StatusCode}
	var decoded struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &decoded) == nil && len(decoded.Errors) > 0 {
		e.Message = strings.Join(decoded.Errors, "; ")
		return e
	}
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "..."
	}
	if e.Message == "" {
		e.Message = "(empty response)"
	}
	return e
}

// client returns the client for verified or insecure connections.
func (a *HTTPAPI) client(insecure bool) *http.Client {
	a.once.Do(func() {
		a.secure = a.Client
		if a.secure == nil {
			a.secure = &http.Client{Timeout: defaultHTTPTimeout}
		}
		a.insecure = insecureCopy(a.secure)
	})
	if insecure {
		return a.insecure
	}
	return a.secure
}

// insecureCopy returns a copy of c that skips certificate verification,
// or c itself if its Transport is not an *http.Transport.
func insecureCopy(c *http.Client) *http.Client {
	var tr *http.Transport
	switch t := c.Transport.(type) {
	case nil:
		base, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return c
		}
		tr = base.Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return c
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.InsecureSkipVerify = true
	cp := *c
	cp.Transport = tr
	return &cp
}
