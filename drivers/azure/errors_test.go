package azure

import (
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-cmp/cmp"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure/azuretest"
	"github.com/vmdispatch/vmdispatch/engine"
)

// TestCreateErrors: what Azure answers a VM create, and the error the
// engine gets.
func TestCreateErrors(t *testing.T) {
	const putVM = "VirtualMachinesClient.BeginCreateOrUpdate"
	familyQuota := "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. " +
		"Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 10, Current Usage: 10, Additional Required: 2."
	spotQuota := "Operation could not be completed as it results in exceeding approved LowPriorityCores quota. Current Limit: 10."
	type want struct {
		Kind       engine.CloudErrorKind
		Scope      engine.CapacityScope
		QuotaGroup string
		RetryAt    time.Time
	}
	cases := []struct {
		name   string
		it     engine.InstanceType
		inject func(*azuretest.FakeCloud)
		want   want
	}{
		{"throttled with Retry-After", small, func(c *azuretest.FakeCloud) { c.SetThrottle(30 * time.Second) },
			want{Kind: engine.CloudRateLimit, RetryAt: t0.Add(30 * time.Second)}},
		{"429 without Retry-After", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 429, Code: "SubscriptionRequestsThrottled"})
		}, want{Kind: engine.CloudRateLimit, RetryAt: t0.Add(DefaultRetryAfter)}},
		{"503 with Retry-After", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 503, Code: "ServerBusy", RetryAfter: 90 * time.Second})
		}, want{Kind: engine.CloudRateLimit, RetryAt: t0.Add(90 * time.Second)}},
		{"regional quota", small, func(c *azuretest.FakeCloud) { c.SetQuota(1) },
			want{Kind: engine.CloudQuota}},
		{"old regional quota message", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 409, Code: "OperationNotAllowed",
				Message: "Operation results in exceeding quota limits of Core. Maximum allowed: 4, Current in use: 4, Additional requested: 2."})
		}, want{Kind: engine.CloudQuota}},
		{"QuotaExceeded", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 409, Code: "QuotaExceeded", Message: "Quota exceeded."})
		}, want{Kind: engine.CloudQuota}},
		{"ResourceQuotaExceeded", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 409, Code: "ResourceQuotaExceeded", Message: "Too many resources in the group."})
		}, want{Kind: engine.CloudQuota}},
		{"family quota", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 409, Code: "OperationNotAllowed", Message: familyQuota})
		}, want{Kind: engine.CloudCapacity, Scope: engine.ScopeQuotaGroup, QuotaGroup: "ds_v3"}},
		{"spot quota", spot, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 409, Code: "OperationNotAllowed", Message: spotQuota})
		}, want{Kind: engine.CloudCapacity, Scope: engine.ScopeQuotaGroup, QuotaGroup: SpotQuotaGroup}},
		{"SkuNotAvailable", small, func(c *azuretest.FakeCloud) { c.SetCapacity(small.ProviderType, "SkuNotAvailable") },
			want{Kind: engine.CloudCapacity, Scope: engine.ScopeType}},
		{"AllocationFailed", small, func(c *azuretest.FakeCloud) { c.SetCapacity(small.ProviderType, "AllocationFailed") },
			want{Kind: engine.CloudCapacity, Scope: engine.ScopeType}},
		{"ZonalAllocationFailed", small, func(c *azuretest.FakeCloud) { c.SetCapacity(small.ProviderType, "ZonalAllocationFailed") },
			want{Kind: engine.CloudCapacity, Scope: engine.ScopeType}},
		{"OverconstrainedAllocationRequest", small, func(c *azuretest.FakeCloud) {
			c.SetCapacity(small.ProviderType, "OverconstrainedAllocationRequest")
		}, want{Kind: engine.CloudCapacity, Scope: engine.ScopeType}},
		{"spot price", spot, func(c *azuretest.FakeCloud) {
			c.SetCapacity(small.ProviderType, "SpotPriceGreaterThanProvidedMaxPrice")
		},
			want{Kind: engine.CloudCapacity, Scope: engine.ScopeType}},
		{"no spot for the size", spot, func(c *azuretest.FakeCloud) {
			c.SetCapacity(small.ProviderType, "AzureSpotIsNotSupportedForThisVMSize")
		},
			want{Kind: engine.CloudCapacity, Scope: engine.ScopeType}},
		{"no spot for the subscription", spot, func(c *azuretest.FakeCloud) {
			c.SetCapacity(small.ProviderType, "AzureSpotFeatureNotEnabledForSubscription")
		}, want{Kind: engine.CloudCapacity, Scope: engine.ScopeQuotaGroup, QuotaGroup: SpotQuotaGroup}},
		{"limit is not quota", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 400, Code: "InvalidParameter", Message: "The name exceeds the length limit of 64."})
		}, want{Kind: engine.CloudTransient}},
		{"server error", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 500, Code: "InternalServerError"})
		}, want{Kind: engine.CloudTransient}},
		{"not authorized", small, func(c *azuretest.FakeCloud) {
			c.Inject(azuretest.Fault{API: putVM, Status: 403, Code: "AuthorizationFailed", Message: "The client does not have authorization."})
		}, want{Kind: engine.CloudTransient}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cloud := newSet(t, nil)
			cloud.AddVM(azuretest.ResourceGroup, "other", "Standard_B2s", nil) // for the quota
			tc.inject(cloud)
			_, err := s.Create(t.Context(), tc.it, azuretest.ImageID, engineTags("s"), "true", "")
			if err == nil {
				t.Fatal("Create succeeded")
			}
			ce := drivers.Classify(err)
			got := want{Kind: ce.Kind, Scope: ce.Scope, QuotaGroup: ce.QuotaGroup, RetryAt: ce.RetryAt}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Create error %q classified (-want +got):\n%s", err, diff)
			}
			cloud.ClearFaults()
			if insts, err := s.Instances(t.Context(), ourFilter()); err != nil || len(insts) != 0 {
				t.Errorf("after the failed create: %v, %v", insts, err)
			}
		})
	}
}

// TestOtherCallErrors: throttling and not-found on the calls besides
// Create.
func TestOtherCallErrors(t *testing.T) {
	s, cloud := newSet(t, nil)
	inst, err := s.Create(t.Context(), small, azuretest.ImageID, engineTags("s"), "true", "")
	if err != nil {
		t.Fatal(err)
	}
	cloud.SetThrottle(5 * time.Second)
	wantRetry := t0.Add(5 * time.Second)
	calls := map[string]error{
		"Instances": func() error { _, err := s.Instances(t.Context(), ourFilter()); return err }(),
		"SetTags":   s.SetTags(t.Context(), inst.ID, engineTags("s")),
		"Destroy":   s.Destroy(t.Context(), inst.ID),
		"Sweep":     s.Sweep(t.Context(), t0),
	}
	for name, err := range calls {
		if at, ok := drivers.RetryAfter(err); !ok || !at.Equal(wantRetry) {
			t.Errorf("%s while throttled: %v, want a RateLimitError until %s", name, err, wantRetry)
		}
	}
	cloud.SetThrottle(0)
	cloud.Inject(azuretest.Fault{API: "InterfacesClient.NewListPager", Followup: false, Status: 500, Code: "InternalServerError"})
	if _, err := s.Instances(t.Context(), ourFilter()); err == nil || drivers.Classify(err).Kind != engine.CloudTransient {
		t.Errorf("Instances with the NIC listing failing: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	cases := []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{"Retry-After": {"12"}}, 12 * time.Second},
		{http.Header{"Retry-After": {t0.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute},
		{http.Header{"Retry-After": {"soon"}}, DefaultRetryAfter},
		{http.Header{"Retry-After": {t0.Add(-time.Minute).Format(http.TimeFormat)}}, DefaultRetryAfter},
		{http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"9"}}, 1500 * time.Millisecond},
		{http.Header{"X-Ms-Retry-After-Ms": {"250"}}, 250 * time.Millisecond},
		{http.Header{}, DefaultRetryAfter},
	}
	for _, tc := range cases {
		if got := retryAfter(&http.Response{Header: tc.header}, t0); got != tc.want {
			t.Errorf("retryAfter(%v) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// TestFailedOperationWithRetryAfter: a Retry-After on the poll that
// reports a failed create is polling advice, not throttling.
func TestFailedOperationWithRetryAfter(t *testing.T) {
	s, _ := newSet(t, nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Retry-After": {"10"}}}
	err := s.classify("create VM x", &azcore.ResponseError{StatusCode: 200, ErrorCode: "AllocationFailed", RawResponse: resp}, &small)
	if scope, ok := drivers.CapacityScope(err); !ok || scope != engine.ScopeType {
		t.Errorf("classify: %v, want a type-scoped CapacityError", err)
	}
}
