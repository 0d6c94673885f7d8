package engine

import (
	"fmt"
	"math"
	"time"
)

// Money is an amount in micro-units of the configured price currency
// (Price is "dollars per hour" in the Arvados config, so one Money is a
// millionth of a dollar). It is an integer so that sums are exact and
// independent of order.
type Money int64

// MoneyFromFloat converts a config price to Money, rounding to the
// nearest micro-unit.
func MoneyFromFloat(f float64) Money { return Money(math.Round(f * 1e6)) }

// Float returns m in whole units.
func (m Money) Float() float64 { return float64(m) / 1e6 }

// String formats m as whole units with six decimals.
func (m Money) String() string { return fmt.Sprintf("%.6f", m.Float()) }

// CostOf returns what an hourly price costs over d, truncated to a whole
// micro-unit.
func CostOf(hourly Money, d time.Duration) Money {
	if d <= 0 {
		return 0
	}
	// hourly * d / hour without overflow for any realistic value: whole
	// hours, then the remainder in milliseconds (below 3.6e6, so the
	// product stays far from int64 limits).
	h := int64(d / time.Hour)
	remMs := int64(d%time.Hour) / int64(time.Millisecond)
	return Money(int64(hourly)*h + int64(hourly)*remMs/int64(time.Hour/time.Millisecond))
}
