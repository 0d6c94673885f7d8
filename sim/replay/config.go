package replay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/sim"
	"go.yaml.in/yaml/v3"
)

// Config is a replay config: a scenario (sim.Scenario, same format and
// checks) whose config, cloud, vms and api sections say how the
// dispatcher is configured and how the cloud and VMs behave. Its
// workload comes from the history, so a workload section is an error;
// name is optional (default: the file name); duration is optional
// (default: the history's span, plus its longest run time, plus Slack);
// step defaults to DefaultStep.
type Config struct {
	Scenario *sim.Scenario
	// DurationSet tells whether the file gave a duration.
	DurationSet bool
}

// DefaultStep is a replay's step quantum when the config gives none
// (a scenario's default is 100ms): events within one second reach the
// engine together. Over a history of days, that changes waits by
// seconds and cost by a fraction of a percent, and halves the number of
// engine steps (scheduling passes), which dominate a replay's run time.
const DefaultStep = time.Second

// Slack is added to the history's span when the config gives no
// duration. A run ends as soon as every container is final and every
// VM is gone, so a long slack costs nothing.
const Slack = 24 * time.Hour

// LoadConfig reads and checks a replay config file. Errors name the
// file, the line and the key, as sim.Load's do.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Scenario.File = path
	return cfg, nil
}

// ParseConfig decodes a replay config; name is its default name.
func ParseConfig(data []byte, name string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		top := doc.Content[0]
		keys := map[string]bool{}
		for i := 0; i+1 < len(top.Content); i += 2 {
			k := top.Content[i]
			switch k.Value {
			case "workload":
				return nil, fmt.Errorf("line %d: workload: not allowed in a replay config (the containers come from --queue)", k.Line)
			}
			keys[k.Value] = true
		}
		// Missing keys are appended as text, so the lines of the
		// user's text, which errors name, stay where they are.
		if top.Style&yaml.FlowStyle == 0 {
			var extra bytes.Buffer
			if !keys["name"] {
				fmt.Fprintf(&extra, "name: %q\n", name)
			}
			if !keys["duration"] {
				// A placeholder: Build derives the duration.
				extra.WriteString("duration: 1h\n")
			}
			if !keys["step"] {
				extra.WriteString("step: " + DefaultStep.String() + "\n")
			}
			if extra.Len() > 0 {
				data = append(append(bytes.Clone(data), '\n'), extra.Bytes()...)
			}
		}
		sc, err := sim.Parse(data)
		if err != nil {
			return nil, err
		}
		return &Config{Scenario: sc, DurationSet: keys["duration"]}, nil
	}
	// Not a mapping, or not YAML: let the scenario parser explain.
	sc, err := sim.Parse(data)
	if err != nil {
		return nil, err
	}
	return &Config{Scenario: sc, DurationSet: true}, nil
}

// BootAllowance is the longest a container waits when a VM is created
// for it the moment it appears, with no limit in the way: the poll that
// notices it, the create call, the boot, the probe that finds the VM
// ready and crunch-run's setup (each at its configured maximum). Queue
// wait beyond it is what limits, packing and cloud trouble add.
func (c *Config) BootAllowance() time.Duration {
	sc := c.Scenario
	cv := &sc.Config.Containers.CloudVMs
	return cv.PollInterval + sc.Cloud.CreateLatency.Max + sc.VMs.BootTime.Max + cv.ProbeInterval + sc.VMs.SetupTime.Max
}

// Build returns the scenario and arrivals that replay h under c:
//
//   - Times shift so that the first arrival is at sim.Epoch.
//   - UUIDs take the config's cluster ID (crunch-run --list ignores
//     other clusters' containers), keeping the rest of the UUID.
//   - A container that started arrives at its created_at and runs for
//     its recorded run time (finished_at - started_at) with its
//     recorded exit code; one cancelled while running is replayed as
//     running that long (it counts as complete in the replay).
//   - A container cancelled before it started arrives at its
//     created_at and is cancelled from outside at its finished_at, as
//     its user did (if the replay starts it earlier, it runs until
//     then).
//   - Priority 0 (the API's priority of finished containers) becomes 1.
func Build(h *History, c *Config) (*sim.Scenario, []sim.Arrival, error) {
	base := *c.Scenario
	sc := &base
	sc.Events = append([]sim.TimedEvent(nil), c.Scenario.Events...)
	cluster := sc.Config.ClusterID
	start := h.Start()
	arrivals := make([]sim.Arrival, 0, len(h.Containers))
	uuids := make(map[string]int, len(h.Containers))
	var longest time.Duration
	for i := range h.Containers {
		hc := &h.Containers[i]
		rec := hc.Record
		rec.UUID = cluster + rec.UUID[5:]
		if j, dup := uuids[rec.UUID]; dup {
			other := &h.Containers[j]
			return nil, nil, fmt.Errorf("%s: line %d: uuid: %s becomes %s with cluster ID %s, as %s on line %d does",
				h.File, hc.Line, hc.Record.UUID, rec.UUID, cluster, other.Record.UUID, other.Line)
		}
		uuids[rec.UUID] = i
		rec.State = engine.Queued
		rec.CreatedAt = sim.Epoch.Add(hc.Record.CreatedAt.Sub(start))
		a := sim.Arrival{Container: rec, Runtime: hc.Runtime, ExitCode: hc.ExitCode}
		if !hc.Ran {
			a.Runtime = hc.FinishedAt.Sub(hc.Record.CreatedAt)
			sc.Events = append(sc.Events, sim.TimedEvent{At: hc.FinishedAt.Sub(start), CancelContainer: len(arrivals) + 1})
		}
		longest = max(longest, a.Runtime)
		arrivals = append(arrivals, a)
	}
	if !c.DurationSet {
		sc.Duration = h.End().Sub(start) + longest + Slack
	}
	if sc.HealAt > sc.Duration {
		sc.HealAt = sc.Duration
	}
	return sc, arrivals, nil
}
