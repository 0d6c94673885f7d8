package azure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// DefaultRetryAfter is how long a throttled call waits when Azure says
// nothing about it (the Arvados driver's default).
const DefaultRetryAfter = 20 * time.Second

// capacityCodes are the error codes of a create Azure cannot place now,
// for the requested size only: allocation failures (which usually end a
// long-running create), a size unavailable here, and spot refusals.
var capacityCodes = map[string]bool{
	"AllocationFailed":                      true,
	"ZonalAllocationFailed":                 true,
	"OverconstrainedAllocationRequest":      true,
	"OverconstrainedZonalAllocationRequest": true,
	"SkuNotAvailable":                       true,
	"SpotPriceGreaterThanProvidedMaxPrice":  true,
	"AzureSpotIsNotSupportedForThisVMSize":  true,
}

// spotUnavailableCodes refuse every spot VM (all of SpotQuotaGroup).
var spotUnavailableCodes = map[string]bool{
	"AzureSpotFeatureNotEnabledForSubscription": true,
}

var (
	// quotaText marks a quota error ("... results in exceeding approved
	// standardDSv3Family Cores quota", "exceeding quota limits of
	// Core", QuotaExceeded, ResourceQuotaExceeded). Narrower than
	// Arvados's (?i:exceed|quota|limit), which also took "name exceeds
	// the length limit" for a quota.
	quotaText = regexp.MustCompile(`(?i)quota`)
	// familyQuotaText: the quota of one VM family, not the region's.
	familyQuotaText = regexp.MustCompile(`(?i)family`)
	// spotQuotaText: the regional quota of spot (low-priority) vCPUs.
	spotQuotaText = regexp.MustCompile(`(?i)low.?priority`)
)

// classify turns an SDK error from the call described by what into the
// typed error the engine acts on, with a one-line message. it is the type
// being created (nil for other calls); it scopes capacity errors. An error
// not recognised is transient for the engine.
//
// The order matters: CRP throttling is a 429 whose code, OperationNotAllowed,
// is also the quota code, so the status is checked first.
func (s *InstanceSet) classify(what string, err error, it *engine.InstanceType) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("azure: %s: %w", what, err)
	}
	code, msg := errorDetails(re)
	text := describe(what, re.StatusCode, code, msg)
	// Retry-After on an error response (as Arvados reads it), not on
	// the successful poll that reports a failed operation.
	if re.StatusCode == http.StatusTooManyRequests || (re.StatusCode >= 300 && hasRetryAfter(re.RawResponse)) {
		return &drivers.RateLimitError{RetryAt: s.now().Add(retryAfter(re.RawResponse, s.now())), Message: text}
	}
	switch {
	case it != nil && capacityCodes[code]:
		return &drivers.CapacityError{Scope: engine.ScopeType, Message: text}
	case it != nil && spotUnavailableCodes[code]:
		return &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: SpotQuotaGroup, Message: text}
	case quotaText.MatchString(code) || quotaText.MatchString(msg):
		switch {
		case it != nil && spotQuotaText.MatchString(msg):
			return &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: SpotQuotaGroup, Message: text}
		case it != nil && familyQuotaText.MatchString(msg):
			return &drivers.CapacityError{Scope: engine.ScopeQuotaGroup, QuotaGroup: s.QuotaGroup(*it), Message: text}
		}
		return &drivers.QuotaError{Message: text}
	}
	return &apiError{text: text, err: re}
}

// describe is the one-line message of an Azure error.
func describe(what string, status int, code, msg string) string {
	text := fmt.Sprintf("azure: %s: HTTP %d", what, status)
	if code != "" {
		text += " " + code
	}
	if msg != "" {
		text += ": " + msg
	}
	return text
}

// oneLine is the message of any error of call what, an Azure error in
// one line rather than the SDK's request dump.
func oneLine(what string, err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code, msg := errorDetails(re)
		return describe(what, re.StatusCode, code, msg)
	}
	return fmt.Sprintf("azure: %s: %v", what, err)
}

// apiError is an Azure error of no kind the engine knows (transient),
// with a one-line message rather than the SDK's request dump.
type apiError struct {
	text string
	err  *azcore.ResponseError
}

func (e *apiError) Error() string { return e.text }
func (e *apiError) Unwrap() error { return e.err }

// errorDetails returns the code and message of an ARM error body
// ({"error": {"code", "message", "details": [...]}}, also inside a failed
// operation's {"status": "Failed", "error": ...}); the messages of the
// details are appended, since quota and throttling explain themselves
// there.
func errorDetails(re *azcore.ResponseError) (code, msg string) {
	code = re.ErrorCode
	if re.RawResponse == nil || re.RawResponse.Body == nil {
		return code, ""
	}
	body, err := io.ReadAll(re.RawResponse.Body)
	re.RawResponse.Body = io.NopCloser(bytes.NewReader(body)) // readable again
	if err != nil || len(body) == 0 {
		return code, ""
	}
	type detail struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []detail `json:"details"`
	}
	var b struct {
		Error *detail `json:"error"`
		detail
	}
	if json.Unmarshal(body, &b) != nil {
		return code, ""
	}
	d := b.Error
	if d == nil {
		d = &b.detail
	}
	if code == "" {
		code = d.Code
	}
	msgs := []string{}
	if d.Message != "" {
		msgs = append(msgs, d.Message)
	}
	for _, sub := range d.Details {
		if sub.Message != "" {
			msgs = append(msgs, sub.Message)
		}
	}
	return code, strings.Join(msgs, "; ")
}

// retryHeaders say how long to wait, in order of preference.
var retryHeaders = []struct {
	name string
	unit time.Duration
}{
	{"Retry-After-Ms", time.Millisecond},
	{"X-Ms-Retry-After-Ms", time.Millisecond},
	{"Retry-After", time.Second},
}

// hasRetryAfter reports whether resp says when to retry.
func hasRetryAfter(resp *http.Response) bool {
	if resp == nil {
		return false
	}
	for _, h := range retryHeaders {
		if resp.Header.Get(h.name) != "" {
			return true
		}
	}
	return false
}

// retryAfter is how long resp asks to wait: a number of (milli)seconds or
// an HTTP date; DefaultRetryAfter if it says nothing usable.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return DefaultRetryAfter
	}
	for _, h := range retryHeaders {
		v := strings.TrimSpace(resp.Header.Get(h.name))
		if v == "" {
			continue
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
			return time.Duration(n * float64(h.unit))
		}
		if h.unit == time.Second {
			if t, err := http.ParseTime(v); err == nil && t.After(now) {
				return t.Sub(now)
			}
		}
	}
	return DefaultRetryAfter
}

// sentMaybe reports whether a failed call may have reached Azure: no
// HTTP answer came back (a timeout, a reset connection), and it did not
// fail while connecting. An answer, even an error, means Azure decided.
func sentMaybe(err error) bool {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return false
	}
	return true
}

// lroFailed reports whether a long-running operation ended in failure,
// rather than the polling of it failing. Azure reports an operation's
// failure in a successful (2xx) poll; the SDK's fake servers fail the poll
// request itself, with the same 2xx status in the error.
func lroFailed(done bool, err error) bool {
	if done {
		return true
	}
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode >= 200 && re.StatusCode < 300
}

// isNotFound reports whether err is Azure saying the resource does not
// exist.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusNotFound ||
		re.ErrorCode == "ResourceNotFound" || re.ErrorCode == "NotFound")
}
