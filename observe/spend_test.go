package observe

import (
	"testing"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

func TestSpendMeter(t *testing.T) {
	// An hour of 0.10/h in millisecond steps is 0.10 exactly, although
	// each step is worth less than a micro-unit.
	var s spendMeter
	for range 3600 * 1000 {
		s.add(engine.MoneyFromFloat(0.10), time.Millisecond)
	}
	if got, want := s.money(), engine.MoneyFromFloat(0.10); got != want {
		t.Errorf("an hour in ms steps: spend %v, want %v", got, want)
	}
	// Uneven steps and prices: the total is the exact integral, rounded
	// down once.
	var u spendMeter
	var num, den int64 = 0, int64(time.Hour)
	for i := range 10000 {
		hourly := engine.Money(1 + i%7*123457)
		d := time.Duration(1 + i*7919%100003)
		u.add(hourly, d)
		num += int64(hourly) * int64(d)
	}
	if got, want := u.money(), engine.Money(num/den); got != want {
		t.Errorf("uneven steps: spend %v, want %v", got, want)
	}
	// Large prices and long gaps do not overflow.
	var big spendMeter
	big.add(engine.MoneyFromFloat(1e6), 1000*time.Hour)
	big.add(engine.MoneyFromFloat(1e6), 90*time.Minute)
	if got, want := big.money(), engine.MoneyFromFloat(1e6*1001.5); got != want {
		t.Errorf("large: spend %v, want %v", got, want)
	}
	// Nothing is charged for nothing.
	var z spendMeter
	z.add(0, time.Hour)
	z.add(100, -time.Hour)
	if z.money() != 0 {
		t.Errorf("zero price or negative time charged %v", z.money())
	}
}
