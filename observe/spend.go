package observe

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
)

// spendMeter integrates an hourly price over time without rounding
// drift: after any sequence of add calls its total is exactly
// floor(Σ hourly × d / 1h) micro-units, however small the steps. (Adding
// engine.CostOf per step would truncate each step to a whole micro-unit:
// at a few milliseconds a step, most of the cost would be lost.)
type spendMeter struct {
	// total is in whole micro-units (engine.Money); the metrics handler
	// reads it from another goroutine.
	total atomic.Int64
	// rem is the fraction carried over, in micro-unit nanoseconds per
	// hour (below one hour's nanoseconds).
	rem uint64
}

// add charges hourly for d.
func (s *spendMeter) add(hourly engine.Money, d time.Duration) {
	if hourly <= 0 || d <= 0 {
		return
	}
	const hour = uint64(time.Hour)
	h := uint64(hourly)
	// Whole hours first, so the 128-bit product of the rest stays below
	// hour << 64 (Div64's limit) for any hourly price.
	whole := uint64(d) / hour * h
	hi, lo := bits.Mul64(h, uint64(d)%hour)
	var carry uint64
	lo, carry = bits.Add64(lo, s.rem, 0)
	hi += carry
	q, r := bits.Div64(hi, lo, hour)
	s.rem = r
	s.total.Add(int64(whole + q))
}

// money is the total spend.
func (s *spendMeter) money() engine.Money { return engine.Money(s.total.Load()) }
