package suggest

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"TimeoutIdle", "TimeoutBooting", "MaxInstances", "SubscriptionID"}
	for _, tc := range []struct{ in, want string }{
		{"TimeoutIdel", "TimeoutIdle"},
		{"timeoutidle", "TimeoutIdle"},
		{"MaxInstance", "MaxInstances"},
		{"SubscriptonID", "SubscriptionID"},
		{"Region", ""},
		{"Ti", ""},
	} {
		if got := Closest(tc.in, keys); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "abc", 0}, {"abc", "abd", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
