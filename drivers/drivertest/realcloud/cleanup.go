package realcloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
)

// cleanup destroys what the run may have left: the VM it created unless
// it is confirmed gone, and any instance listed with this run's marker.
// If a create's outcome is unknown, it watches the listing for
// LostCreateGrace, since the VM may show up late. It runs on a context of
// its own: the run's may be cancelled (Ctrl-C).
func (r *run) cleanup() error {
	if r.gone && !r.unsure {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CleanupTimeout)
	defer cancel()
	var destroyed, failed []string
	err := r.report.step("cleanup", func() (string, error) {
		tried := map[string]bool{}
		destroy := func(id string) {
			tried[id] = true
			if err := r.cfg.Cloud.Destroy(ctx, id); err != nil && drivers.Classify(err).Kind != engine.CloudNotFound {
				failed = append(failed, fmt.Sprintf("%s (%v)", id, err))
				return
			}
			destroyed = append(destroyed, id)
		}
		if r.inst.ID != "" && !r.gone {
			destroy(r.inst.ID)
		}
		watchUntil := time.Now()
		if r.unsure {
			watchUntil = watchUntil.Add(r.cfg.LostCreateGrace)
		}
		var listErr error
		for {
			insts, err := r.cfg.Cloud.Instances(ctx, r.mine())
			listErr = err
			for _, inst := range insts {
				if !tried[inst.ID] {
					destroy(inst.ID)
				}
			}
			if (err == nil && !time.Now().Before(watchUntil)) || ctx.Err() != nil {
				break
			}
			wait := r.cfg.PollInterval
			if left := time.Until(watchUntil); left > 0 {
				wait = min(wait, left)
			}
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
			timer.Stop()
		}
		if listErr != nil {
			failed = append(failed, fmt.Sprintf("cannot list instances tagged %v: %v", r.mine(), listErr))
		}
		if len(failed) > 0 {
			return "", errors.New(strings.Join(failed, "; "))
		}
		if len(destroyed) == 0 {
			return "nothing left", nil
		}
		slices.Sort(destroyed)
		return "destroyed " + strings.Join(destroyed, ", "), nil
	})
	if err != nil {
		return fmt.Errorf("%w\nWARNING: instances tagged %v may be left; check the cloud console and delete them by hand", err, r.mine())
	}
	return nil
}
