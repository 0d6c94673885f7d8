package mgmt

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The management token the tests use.
const testToken = "mgmt-token-5ecret-do-not-log-0123456789"

// request is one call to the management API.
type request struct {
	method, path string
	params       url.Values
	// form sends params as an urlencoded body instead of the query.
	form bool
}

// reply is what came back.
type reply struct {
	status      int
	contentType string
	body        string
}

// send makes r against base with token as bearer ("" sends no
// Authorization header).
func send(t *testing.T, base, token string, r request) reply {
	t.Helper()
	u := base + r.path
	var body io.Reader
	if r.form {
		body = strings.NewReader(r.params.Encode())
	} else if len(r.params) > 0 {
		u += "?" + r.params.Encode()
	}
	req, err := http.NewRequest(r.method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.form {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(b)}
}

// errorReply is the reply Arvados gives for an error.
func errorReply(status int, msg string) reply {
	b, _ := json.Marshal(errorBody{Errors: []string{msg}})
	return reply{status: status, contentType: "application/json", body: string(b) + "\n"}
}

// okReply is the reply to a successful operator request.
var okReply = reply{status: http.StatusOK, contentType: "application/json", body: "{}\n"}

// decode parses a JSON body into generic values, for shape checks.
func decode(t *testing.T, body string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", body, err)
	}
	return v
}

// authPaths are every path behind the token, with a request that is
// otherwise valid or harmless.
var authPaths = []request{
	{method: "GET", path: pathContainers},
	{method: "GET", path: pathContainer, params: url.Values{"container_uuid": {"zzzzz-dz642-000000000000001"}}},
	{method: "POST", path: pathContainerKill},
	{method: "GET", path: pathInstances},
	{method: "POST", path: pathInstances + "/hold"},
	{method: "POST", path: pathInstances + "/drain"},
	{method: "POST", path: pathInstances + "/run"},
	{method: "POST", path: pathInstances + "/kill"},
	{method: "GET", path: "/metrics"},
	{method: "GET", path: "/metrics.json"},
	{method: "GET", path: "/_health/ping"},
	{method: "GET", path: "/no/such/path"},
	{method: "DELETE", path: pathInstances},
	{method: "GET", path: "/"},
}

// checkAuth runs the auth matrix: base serves with testToken, bare with
// no token configured.
func checkAuth(t *testing.T, base, bare string) {
	t.Helper()
	for _, r := range authPaths {
		name := r.method + " " + r.path
		for _, tc := range []struct {
			what, base, token string
			want              reply
		}{
			{"missing token", base, "", errorReply(http.StatusUnauthorized, msgNoToken)},
			{"wrong token", base, "wrong-" + testToken, errorReply(http.StatusForbidden, msgBadToken)},
			{"token prefix", base, testToken[:10], errorReply(http.StatusForbidden, msgBadToken)},
			{"unconfigured, no token", bare, "", errorReply(http.StatusForbidden, msgNotConfigured)},
			{"unconfigured, any token", bare, testToken, errorReply(http.StatusForbidden, msgNotConfigured)},
		} {
			if got := send(t, tc.base, tc.token, r); got != tc.want {
				t.Errorf("%s, %s: got %+v, want %+v", name, tc.what, got, tc.want)
			}
		}
		got := send(t, base, testToken, r)
		if got.status == http.StatusUnauthorized || got.status == http.StatusForbidden {
			t.Errorf("%s, right token: got %+v", name, got)
		}
	}
}
