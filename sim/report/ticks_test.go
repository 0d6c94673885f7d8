package report

import (
	"testing"
	"time"
)

func TestFmtDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{250 * time.Millisecond, "250ms"},
		{45 * time.Second, "45s"},
		{150 * time.Second, "2m30s"},
		{2 * time.Hour, "2h"},
		{90 * time.Minute, "1h30m"},
		{93*time.Minute + 56*time.Second + 378*time.Millisecond, "1h33m"},
		{72 * time.Hour, "3d"},
		{36 * time.Hour, "1d12h"},
		{-time.Minute, "-1m"},
	} {
		if got := fmtDuration(tc.d); got != tc.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct {
		max, min, want float64
	}{
		{0, 1, 1},
		{3, 1, 1},
		{23, 1, 5},
		{150, 1, 50},
		{12.4, 0.01, 5},
		{0.003, 0.01, 0.01},
		{0.38, 0.01, 0.1},
	} {
		if got := niceStep(tc.max, 5, tc.min); got != tc.want {
			t.Errorf("niceStep(%v, 5, %v) = %v, want %v", tc.max, tc.min, got, tc.want)
		}
	}
	if got := fmtMoney(27.623913); got != "$27.62" {
		t.Errorf("fmtMoney = %q", got)
	}
}

func TestDurationStep(t *testing.T) {
	for _, tc := range []struct {
		span time.Duration
		want time.Duration
	}{
		{27 * time.Minute, 5 * time.Minute},
		{6 * time.Hour, time.Hour},
		{24 * time.Hour, 3 * time.Hour},
		{7 * 24 * time.Hour, 24 * time.Hour},
		{3 * time.Second, time.Second},
	} {
		if got := durationStep(tc.span, 8); got != tc.want {
			t.Errorf("durationStep(%v, 8) = %v, want %v", tc.span, got, tc.want)
		}
	}
}
