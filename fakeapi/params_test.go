package fakeapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListMalformed checks that a malformed list parameter is refused
// with 422 and a message naming the parameter and what is wrong. A want
// ending in "…" is a prefix (the rest is encoding/json's wording).
func TestListMalformed(t *testing.T) {
	ts := newTestServer(t, 0, serverListFixture()...)
	for _, tc := range []struct {
		param, value string
		want         string
	}{
		{"filters", `nope`, `Invalid filters parameter: invalid character…`},
		{"filters", `{"uuid":"x"}`, `Invalid filters parameter: json: cannot unmarshal object…`},
		{"filters", `[] junk`, `Invalid filters parameter: trailing data after JSON value`},
		{"filters", `[["uuid","="]]`, `Invalid filters parameter: filter 0: ["uuid","="] is not an [attribute, operator, operand] triple`},
		{"filters", `["uuid","=","x"]`, `Invalid filters parameter: filter 0: "uuid" is not an [attribute, operator, operand] triple`},
		{"filters", `[[1,"=",1]]`, `Invalid filters parameter: filter 0: attribute and operator must be strings in [1,"=",1]`},
		{"filters", `[["uuid","=","x"],["bogus","=",1]]`, `Invalid filters parameter: filter 1: unknown attribute "bogus"`},
		{"filters", `[["mounts","=",1]]`, `Invalid filters parameter: filter 0: attribute "mounts" is not a scalar`},
		{"filters", `[["uuid","like","x%"]]`, `Invalid filters parameter: filter 0: unsupported operator "like"`},
		{"filters", `[["priority",">","0"]]`, `Invalid filters parameter: filter 0: operand "0" does not fit attribute "priority"`},
		{"filters", `[["state","=",1]]`, `Invalid filters parameter: filter 0: operand 1 does not fit attribute "state"`},
		{"filters", `[["priority","<",null]]`, `Invalid filters parameter: filter 0: operator "<" needs a non-null operand`},
		{"filters", `[["uuid","in","x"]]`, `Invalid filters parameter: filter 0: operator "in" needs an array operand, not "x"`},
		{"filters", `[["uuid","not in",[1]]]`, `Invalid filters parameter: filter 0: operand 1 does not fit attribute "uuid"`},
		{"filters", `[["created_at",">","yesterday"]]`, `Invalid filters parameter: filter 0: operand "yesterday" does not fit attribute "created_at"`},
		{"order", `bogus`, `Invalid order parameter: unknown attribute "bogus"`},
		{"order", `uuid sideways`, `Invalid order parameter: direction "sideways" is not asc or desc`},
		{"order", `uuid asc extra`, `Invalid order parameter: "uuid asc extra" is not "attribute [asc|desc]"`},
		{"order", `uuid,`, `Invalid order parameter: "" is not "attribute [asc|desc]"`},
		{"order", `["uuid",1]`, `Invalid order parameter: json: cannot unmarshal number…`},
		{"order", `"uuid`, `Invalid order parameter: unexpected EOF`},
		{"order", `runtime_constraints`, `Invalid order parameter: attribute "runtime_constraints" is not a scalar`},
		{"select", `uuid`, `Invalid select parameter: invalid character…`},
		{"select", `["uuid","bogus"]`, `Invalid select parameter: unknown attribute "bogus"`},
		{"limit", `-1`, `Invalid limit parameter: "-1" is not an integer >= 0`},
		{"limit", `ten`, `Invalid limit parameter: "ten" is not an integer >= 0`},
		{"limit", `1.5`, `Invalid limit parameter: "1.5" is not an integer >= 0`},
		{"offset", `-3`, `Invalid offset parameter: "-3" is not an integer >= 0`},
		{"count", `some`, `Invalid count parameter: "some" is not "exact" or "none"`},
	} {
		t.Run(tc.param+"="+tc.value, func(t *testing.T) {
			got := ts.do(t, request{method: "GET", path: "containers", token: tokMe, query: listQuery(tc.param, tc.value)})
			if got.status != 422 {
				t.Errorf("status %d %s, want 422", got.status, got.body)
			}
			errs := got.errors(t)
			if prefix, ok := strings.CutSuffix(tc.want, "…"); ok {
				if len(errs) != 1 || !strings.HasPrefix(errs[0], prefix) {
					t.Errorf("errors %q, want one starting %q", errs, prefix)
				}
				return
			}
			if diff := cmp.Diff([]string{tc.want}, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetMalformedSelect(t *testing.T) {
	ts := newTestServer(t, 0, queued(1))
	got := ts.do(t, request{method: "POST", path: "containers/" + uuid1 + "/lock", token: tokMe, query: listQuery("select", `["nope"]`)})
	if diff := cmp.Diff([]string{`Invalid select parameter: unknown attribute "nope"`}, got.errors(t)); got.status != 422 || diff != "" {
		t.Errorf("status %d, errors (-want +got):\n%s", got.status, diff)
	}
	if c, _ := ts.store.Get(uuid1); c.State != "Queued" {
		t.Errorf("a refused lock locked: %s", c.State)
	}
}
