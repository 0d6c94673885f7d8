package fakeapi

import (
	"errors"
	"fmt"
	"testing"
)

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{&Error{Status: 404, Message: "x"}, 404},
		{fmt.Errorf("wrapped: %w", &Error{Status: 403, Message: "x"}), 403},
		{errors.New("other"), 500},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if got := (&Error{Status: 422, Message: "cannot lock when Locked"}).Error(); got != "cannot lock when Locked" {
		t.Errorf("Error() = %q", got)
	}
}
