package livesim

import (
	"math"
	"reflect"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
	"github.com/vmdispatch/vmdispatch/stubvm"
)

// durationType is reflect's name for time.Duration.
var durationType = reflect.TypeFor[time.Duration]()

// scaleDurations multiplies every time.Duration field reachable from v
// (a pointer to a struct) by f: config timeouts and intervals, VM knobs.
func scaleDurations(v reflect.Value, f float64) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			scaleDurations(v.Elem(), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scaleDurations(v.Field(i), f)
			}
		}
	case reflect.Int64:
		if v.Type() == durationType && v.CanSet() {
			v.SetInt(int64(sim.Scale(time.Duration(v.Int()), f)))
		}
	}
}

// ScaleConfig returns cfg with every duration multiplied by f and the
// per-second rate limits divided by it, so the engine behaves as it
// would at full scale, only faster.
func ScaleConfig(cfg engine.Config, f float64) engine.Config {
	scaleDurations(reflect.ValueOf(&cfg), f)
	cv := &cfg.Containers.CloudVMs
	perSecond := func(n int) int {
		if n <= 0 {
			return n
		}
		return int(math.Ceil(float64(n) / f))
	}
	cv.MaxProbesPerSecond = perSecond(cv.MaxProbesPerSecond)
	cv.MaxCloudOpsPerSecond = perSecond(cv.MaxCloudOpsPerSecond)
	return cfg
}

// scaleKnobs scales a VM's fault timings.
func scaleKnobs(k stubvm.Knobs, f float64) stubvm.Knobs {
	scaleDurations(reflect.ValueOf(&k), f)
	return k
}
