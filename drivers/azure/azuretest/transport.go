package azuretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Fault makes matching requests fail.
type Fault struct {
	// API is the SDK operation the fault applies to, as
	// "VirtualMachinesClient.BeginCreateOrUpdate" or
	// "InterfacesClient.NewListPager"; "" matches every operation.
	API string
	// Followup applies the fault to the polls of long-running
	// operations and the next pages of listings, instead of first
	// requests.
	Followup bool
	// Status, Code and Message make an ARM error response
	// ({"error": {"code", "message"}}); Status 0 means 500.
	Status        int
	Code, Message string
	// RetryAfter, if positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
	// Err, if set, is returned instead of a response: a network failure
	// or timeout.
	Err error
	// AfterSend lets the request reach the cloud first (it takes
	// effect), then fails it: a reply lost on the way back.
	AfterSend bool
	// Times is how many matching requests fail (0: one).
	Times int
}

// armError is the body of an ARM error.
type armError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []any  `json:"details,omitempty"`
}

// reqState travels with a request to the fake servers' handler funcs.
type reqState struct {
	// sub is the subscription in the request path; path the request's
	// own path (see Do).
	sub, path string
	// err is set by a handler that fails the request.
	err armError
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	if st == nil {
		return &reqState{sub: SubscriptionID}
	}
	return st
}

// callPrefix starts the path of every request the fakes see: with a
// number per call, it keeps each operation's and listing's state apart.
// The fakes' path patterns are unanchored and skip it.
const callPrefix = "/azuretest-call-"

var (
	subscriptionPath = regexp.MustCompile(`/subscriptions/([^/]+)/`)
	callPath         = regexp.MustCompile(`^` + callPrefix + `\d+`)
	followupSuffix   = regexp.MustCompile(`/(get/fake/status|fake_page_\d+)$`)
)

const pollSuffix = "/get/fake/status"

// Do serves a request from the SDK clients: it records it, applies the
// fault knobs, gives it a path of its own and routes it to the compute or
// network fake, then turns the fakes' bodiless errors into ARM error
// responses and asks pollers to come back at once.
func (c *FakeCloud) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	api, _ := ctx.Value(runtime.CtxAPINameKey{}).(string)
	path := req.URL.Path
	followup := strings.HasPrefix(path, callPrefix)

	c.mu.Lock()
	c.calls = append(c.calls, Call{
		API: api, Method: req.Method, Query: req.URL.RawQuery, Followup: followup,
		Path: followupSuffix.ReplaceAllString(callPath.ReplaceAllString(path, ""), ""),
	})
	fault := c.takeFault(api, followup)
	throttle := c.throttle
	if !followup {
		c.seq++
		path = fmt.Sprintf("%s%d%s", callPrefix, c.seq, path)
	}
	c.mu.Unlock()

	if throttle > 0 {
		return throttled(req, throttle), nil
	}
	if fault != nil && !fault.AfterSend {
		return fault.respond(req)
	}
	st := &reqState{sub: SubscriptionID, path: path}
	if m := subscriptionPath.FindStringSubmatch(path); m != nil {
		st.sub = m[1]
	}
	inner := req.Clone(context.WithValue(ctx, stateKey{}, st))
	inner.URL.Path, inner.URL.RawPath = path, ""
	var resp *http.Response
	var err error
	if strings.Contains(path, "/providers/Microsoft.Network/") {
		resp, err = c.network.Do(inner)
	} else {
		resp, err = c.compute.Do(inner)
	}
	c.runHooks()
	if fault != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return fault.respond(req)
	}
	if err != nil {
		return c.errorResponse(inner, err, st)
	}
	if resp.Header.Get("Fake-Poller-Status") == "InProgress" {
		// Azure says when to poll again; the fakes do not.
		resp.Header.Set("Retry-After-Ms", "1")
	}
	return resp, nil
}

// takeFault returns the first fault matching a request, using it up.
func (c *FakeCloud) takeFault(api string, followup bool) *Fault {
	for i, f := range c.faults {
		if (f.API == "" || f.API == api) && f.Followup == followup {
			f.Times--
			if f.Times <= 0 {
				c.faults = append(c.faults[:i], c.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// errorResponse turns a fake's error into what Azure sends: an error
// response with an ARM body, or, for the poll of an operation that
// failed, a successful poll whose body reports the failure.
func (c *FakeCloud) errorResponse(req *http.Request, err error, st *reqState) (*http.Response, error) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return nil, err
	}
	body := st.err
	if body.Code == "" {
		body.Code = re.ErrorCode
	}
	if strings.HasSuffix(req.URL.Path, pollSuffix) {
		op := strings.TrimSuffix(req.URL.Path, pollSuffix)
		c.mu.Lock()
		if e, ok := c.lroError[op]; ok {
			body = e
			delete(c.lroError, op)
		}
		c.mu.Unlock()
		resp := jsonResponse(req, http.StatusOK, map[string]any{"status": "Failed", "error": body})
		resp.Header.Set("Fake-Poller-Status", "Failed")
		return resp, nil
	}
	if body.Message == "" {
		body.Message = http.StatusText(re.StatusCode)
	}
	return jsonResponse(req, re.StatusCode, map[string]any{"error": body}), nil
}

// respond is the response (or network error) of an injected fault.
func (f *Fault) respond(req *http.Request) (*http.Response, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	resp := jsonResponse(req, status, map[string]any{"error": armError{Code: f.Code, Message: f.Message}})
	if f.RetryAfter > 0 {
		resp.Header.Set("Retry-After", seconds(f.RetryAfter))
	}
	return resp, nil
}

// throttled is the Compute resource provider's answer to too many
// requests (per the Azure throttling troubleshooting page).
func throttled(req *http.Request, retryAfter time.Duration) *http.Response {
	now := time.Now().UTC()
	detail, _ := json.Marshal(map[string]any{
		"operationGroup": "PutVM3Min", "startTime": now.Format(time.RFC3339),
		"endTime": now.Add(3 * time.Minute).Format(time.RFC3339), "allowedRequestCount": 240, "measuredRequestCount": 300,
	})
	resp := jsonResponse(req, http.StatusTooManyRequests, map[string]any{"error": armError{
		Code:    "OperationNotAllowed",
		Message: "The server rejected the request because too many requests have been received for this subscription.",
		Details: []any{map[string]string{"code": "TooManyRequests", "target": "PutVM3Min", "message": string(detail)}},
	}})
	resp.Header.Set("Retry-After", seconds(retryAfter))
	resp.Header.Set("x-ms-ratelimit-remaining-resource", "Microsoft.Compute/PutVM3Min;0,Microsoft.Compute/PutVM30Min;1198")
	return resp
}

// seconds formats d as Retry-After does: whole seconds, rounded up.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// jsonResponse is an HTTP response with a JSON body.
func jsonResponse(req *http.Request, status int, body any) *http.Response {
	b, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("azuretest: marshal response: %v", err))
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body:          io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)),
		Request:       req,
	}
}
