package replay

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// GenOptions tune Generate.
type GenOptions struct {
	// Days is the span over which workflows start (default 7).
	Days float64
	// Containers is the exact number of records (default 10,000).
	Containers int
	Seed       uint64
	// Start is the first day's midnight (default 2026-01-05, a Monday,
	// UTC).
	Start time.Time
	// ClusterID prefixes UUIDs (default zzzzz).
	ClusterID string
}

// Record is an Arvados container record as the API returns it (the
// fields a history export selects, and a few more so that readers learn
// to ignore what they do not use).
type Record struct {
	Kind                 string                 `json:"kind"`
	Etag                 string                 `json:"etag"`
	UUID                 string                 `json:"uuid"`
	OwnerUUID            string                 `json:"owner_uuid"`
	CreatedAt            string                 `json:"created_at"`
	ModifiedAt           string                 `json:"modified_at"`
	State                string                 `json:"state"`
	StartedAt            *string                `json:"started_at"`
	FinishedAt           *string                `json:"finished_at"`
	Priority             int64                  `json:"priority"`
	ExitCode             *int                   `json:"exit_code"`
	Command              []string               `json:"command"`
	ContainerImage       string                 `json:"container_image"`
	Mounts               map[string]RecordMount `json:"mounts"`
	RuntimeConstraints   RecordConstraints      `json:"runtime_constraints"`
	SchedulingParameters RecordSchedulingParams `json:"scheduling_parameters"`
	LockedByUUID         *string                `json:"locked_by_uuid"`
	LockCount            int                    `json:"lock_count"`
	RuntimeStatus        map[string]any         `json:"runtime_status"`
	Cost                 float64                `json:"cost"`
	SubrequestsCost      float64                `json:"subrequests_cost"`
	OutputStorageClasses []string               `json:"output_storage_classes"`
	Environment          map[string]string      `json:"environment"`
	OutputProperties     map[string]any         `json:"output_properties"`
	RuntimeUserUUID      string                 `json:"runtime_user_uuid"`
	RuntimeAuthScopes    []string               `json:"runtime_auth_scopes"`
}

// RecordMount is a mount of a container record.
type RecordMount struct {
	Kind             string `json:"kind"`
	Capacity         int64  `json:"capacity,omitempty"`
	PortableDataHash string `json:"portable_data_hash,omitempty"`
	Path             string `json:"path,omitempty"`
	Writable         bool   `json:"writable,omitempty"`
}

// RecordConstraints are a record's runtime_constraints.
type RecordConstraints struct {
	API           bool      `json:"API"`
	RAM           int64     `json:"ram"`
	VCPUs         int       `json:"vcpus"`
	KeepCacheRAM  int64     `json:"keep_cache_ram"`
	KeepCacheDisk int64     `json:"keep_cache_disk"`
	GPU           RecordGPU `json:"gpu"`
}

// RecordGPU is runtime_constraints.gpu.
type RecordGPU struct {
	Stack          string   `json:"stack"`
	DriverVersion  string   `json:"driver_version"`
	HardwareTarget []string `json:"hardware_target"`
	DeviceCount    int      `json:"device_count"`
	VRAM           int64    `json:"vram"`
}

// RecordSchedulingParams are a record's scheduling_parameters.
type RecordSchedulingParams struct {
	Partitions  []string `json:"partitions"`
	Preemptible bool     `json:"preemptible"`
	MaxRunTime  int      `json:"max_run_time"`
	Supervisor  bool     `json:"supervisor"`
}

// size is a step's resource request.
type size struct {
	vcpus  int
	ramMiB int64
	weight int
	gpu    bool
}

// sizes are the requests of workflow steps, with their weights: mostly
// small, some large, a few memory-heavy and GPU steps. RAM is what CWL
// tools typically ask for (ramMin in MiB).
var sizes = []size{
	{1, 1536, 18, false}, {1, 3000, 12, false}, {2, 3500, 14, false}, {2, 7000, 10, false},
	{4, 6000, 10, false}, {4, 14000, 10, false}, {8, 28000, 9, false}, {8, 56000, 4, false},
	{16, 56000, 6, false}, {16, 110000, 2, false}, {32, 110000, 2, false}, {4, 24000, 2, true},
}

// Generate returns a realistic sample history, sorted by created_at:
// workflows start at a diurnal rate (busy afternoons, quiet nights and
// weekends); some have a supervisor container (arvados-cwl-runner) that
// runs while its steps do; each workflow runs a few steps in sequence,
// each step a scatter of identical-sized containers created in a burst
// (usually one, sometimes hundreds); sizes are mixed; run times are
// log-normal per step (a heavy tail: most take minutes, some take a
// day); a few containers fail (non-zero exit code, which may end their
// workflow), a few workflows are cancelled by their users (running
// containers are cancelled, queued ones cancelled before they start).
// The same options give the same history.
func Generate(o GenOptions) []Record {
	if o.Days <= 0 {
		o.Days = 7
	}
	if o.Containers <= 0 {
		o.Containers = 10000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if o.ClusterID == "" {
		o.ClusterID = "zzzzz"
	}
	g := &gen{o: o, r: rand.New(rand.NewPCG(o.Seed, 0x5eed)), uuids: map[string]bool{}}
	for len(g.out) < o.Containers {
		g.workflow()
	}
	g.out = g.out[:o.Containers]
	slices.SortStableFunc(g.out, func(a, b genCtr) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmp.Compare(a.rec.UUID, b.rec.UUID)
	})
	recs := make([]Record, len(g.out))
	for i := range g.out {
		recs[i] = g.out[i].finish()
	}
	return recs
}

// WriteJSONL writes records one JSON object per line.
func WriteJSONL(w io.Writer, recs []Record) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type gen struct {
	o     GenOptions
	r     *rand.Rand
	uuids map[string]bool
	out   []genCtr
}

// genCtr is a record being generated, with its times.
type genCtr struct {
	rec               Record
	created           time.Time
	started, finished time.Time // zero started: never started
	exit              int
	cancelled         bool
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func (c *genCtr) finish() Record {
	rec := c.rec
	rec.CreatedAt = stamp(c.created)
	rec.ModifiedAt = stamp(c.finished)
	fin := stamp(c.finished)
	rec.FinishedAt = &fin
	if !c.started.IsZero() {
		s := stamp(c.started)
		rec.StartedAt = &s
		rec.LockCount = 1
	}
	if c.cancelled {
		rec.State = "Cancelled"
	} else {
		rec.State = "Complete"
		exit := c.exit
		rec.ExitCode = &exit
	}
	return rec
}

const letters = "abcdefghijklmnopqrstuvwxyz0123456789"

func (g *gen) id(infix string) string {
	for {
		b := make([]byte, 15)
		for i := range b {
			b[i] = letters[g.r.IntN(len(letters))]
		}
		u := g.o.ClusterID + "-" + infix + "-" + string(b)
		if !g.uuids[u] {
			g.uuids[u] = true
			return u
		}
	}
}

// arrival draws a workflow start time: uniform over the days, thinned
// by the diurnal rate.
func (g *gen) arrival() time.Time {
	span := time.Duration(g.o.Days * float64(24*time.Hour))
	for {
		t := g.o.Start.Add(time.Duration(g.r.Int64N(int64(span))))
		if g.r.Float64() < rate(t) {
			return t
		}
	}
}

// rate is the relative workflow arrival rate at t (at most 1): peaks at
// 15:00 UTC on weekdays, a fifth of that at night, a third on weekends.
func rate(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	day := 0.5 - 0.5*math.Cos(2*math.Pi*(h-3)/24)
	r := 0.2 + 0.8*math.Pow(day, 1.5)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		r *= 0.35
	}
	return r
}

// lognormal draws exp(N(ln median, sigma)) times the unit.
func (g *gen) lognormal(median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(g.r.NormFloat64()*sigma))
}

// width draws how many containers a step scatters over.
func (g *gen) width() int {
	switch x := g.r.Float64(); {
	case x < 0.55:
		return 1
	case x < 0.82:
		return 2 + g.r.IntN(9)
	case x < 0.96:
		return 10 + g.r.IntN(91)
	default:
		return 100 + g.r.IntN(401)
	}
}

func (g *gen) size() size {
	total := 0
	for _, s := range sizes {
		total += s.weight
	}
	n := g.r.IntN(total)
	for _, s := range sizes {
		if n < s.weight {
			return s
		}
		n -= s.weight
	}
	return sizes[0]
}

// image returns a Docker image collection's portable data hash whose
// manifest size (the part after "+") puts the image at about gib GiB,
// as arv-keepdocker stores them.
func (g *gen) image(gib float64) string {
	blocks := int(gib * 16)
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return fmt.Sprintf("%x+%d", b, 80+42*blocks)
}

var users = []string{"alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi"}

// workflow generates one workflow's containers.
func (g *gen) workflow() {
	first := len(g.out)
	start := g.arrival()
	owner := g.o.ClusterID + "-tpzed-" + fmt.Sprintf("%015s", users[g.r.IntN(len(users))])
	images := []string{g.image(0.5 + 3*g.r.Float64()), g.image(0.5 + 3*g.r.Float64())}
	// A user cancels the workflow at this offset after its start (0:
	// never).
	var cancelAfter time.Duration
	if g.r.Float64() < 0.03 {
		cancelAfter = time.Duration(1 + g.r.Int64N(int64(6*time.Hour)))
	}
	super := -1
	next := start
	if g.r.Float64() < 0.3 {
		super = g.ctr(owner, start, size{vcpus: 1, ramMiB: 1024 + 256*int64(g.r.IntN(9))}, g.image(1), 0)
		c := &g.out[super]
		c.rec.SchedulingParameters.Supervisor = true
		c.rec.Command = []string{"arvados-cwl-runner", "--local", "--api=containers", "/var/lib/cwl/workflow.json#main", "/var/lib/cwl/cwl.input.json"}
		c.started = start.Add(g.wait())
		next = c.started.Add(20*time.Second + time.Duration(g.r.Int64N(int64(40*time.Second))))
	}
	steps := 1 + int(g.r.ExpFloat64()*2)
	end := next
	stopped := false
	for s := 0; s < steps && !stopped; s++ {
		sz := g.size()
		w := g.width()
		if sz.gpu {
			w = min(w, 4)
		}
		median := g.lognormal(6*time.Minute, 1.1)
		if g.r.Float64() < 0.03 {
			median *= 10 // the heavy tail: an assembly, a long alignment
		}
		img := images[g.r.IntN(len(images))]
		tmpGB := int64(0)
		if g.r.Float64() < 0.4 {
			tmpGB = 1 << g.r.IntN(8) // 1GB to 128GB
		}
		failed := false
		stepEnd := next
		created := next
		for i := 0; i < w; i++ {
			created = created.Add(time.Duration(50+g.r.IntN(250)) * time.Millisecond)
			c := &g.out[g.ctr(owner, created, sz, img, tmpGB)]
			if g.r.Float64() < 0.005 {
				// Its user set its priority to 0 before it started.
				c.cancelled = true
				c.finished = created.Add(10*time.Second + time.Duration(g.r.Int64N(int64(5*time.Minute))))
				stepEnd = later(stepEnd, c.finished)
				continue
			}
			c.started = created.Add(g.wait())
			run := min(max(g.lognormal(median, 0.45), 5*time.Second), 48*time.Hour)
			c.finished = c.started.Add(run)
			switch x := g.r.Float64(); {
			case x < 0.02:
				c.exit, failed = 1, true
			case x < 0.023:
				c.exit, failed = 137, true
			}
			stepEnd = later(stepEnd, c.finished)
		}
		end = stepEnd
		next = stepEnd.Add(5*time.Second + time.Duration(g.r.Int64N(int64(25*time.Second))))
		stopped = failed && g.r.Float64() < 0.7
	}
	if super >= 0 {
		c := &g.out[super]
		c.finished = end.Add(10*time.Second + time.Duration(g.r.Int64N(int64(20*time.Second))))
		if stopped {
			c.exit = 1
		}
	}
	if cancelAfter == 0 {
		return
	}
	// The cancellation: containers not created yet never are; running
	// ones are cancelled; queued ones are cancelled before starting.
	cancelAt := start.Add(cancelAfter)
	kept := g.out[:first]
	for _, c := range g.out[first:] {
		if c.created.After(cancelAt) {
			continue
		}
		if c.finished.After(cancelAt) {
			c.cancelled, c.finished = true, cancelAt
			if c.started.After(cancelAt) {
				c.started = time.Time{}
			}
		}
		kept = append(kept, c)
	}
	g.out = kept
}

// ctr adds a container to the output and returns its index.
func (g *gen) ctr(owner string, created time.Time, sz size, img string, tmpGB int64) int {
	c := genCtr{
		created: created,
		rec: Record{
			Kind:           "arvados#container",
			Etag:           fmt.Sprintf("%x", g.r.Uint64()),
			UUID:           g.id("dz642"),
			OwnerUUID:      owner,
			Priority:       0, // finished containers have priority 0
			Command:        []string{"/bin/sh", "-c", "run-step"},
			ContainerImage: img,
			Mounts: map[string]RecordMount{
				"/keep":                       {Kind: "collection", PortableDataHash: "d41d8cd98f00b204e9800998ecf8427e+0"},
				"/var/spool/cwl":              {Kind: "collection", Writable: true},
				"/var/lib/cwl/cwl.input.json": {Kind: "json"},
			},
			RuntimeConstraints: RecordConstraints{
				RAM:          sz.ramMiB << 20,
				VCPUs:        sz.vcpus,
				KeepCacheRAM: 0,
			},
			SchedulingParameters: RecordSchedulingParams{Partitions: []string{}},
			RuntimeStatus:        map[string]any{},
			OutputStorageClasses: []string{"default"},
			Environment:          map[string]string{"HOME": "/var/spool/cwl", "TMPDIR": "/tmp"},
			OutputProperties:     map[string]any{},
			RuntimeUserUUID:      owner,
			RuntimeAuthScopes:    []string{"all"},
		},
	}
	if sz.gpu {
		c.rec.RuntimeConstraints.GPU = RecordGPU{Stack: "cuda", DriverVersion: "11.0", HardwareTarget: []string{"7.5"}, DeviceCount: 1, VRAM: 8 << 30}
	}
	if tmpGB > 0 {
		c.rec.Mounts["/tmp"] = RecordMount{Kind: "tmp", Capacity: tmpGB * 1e9}
	}
	g.out = append(g.out, c)
	return len(g.out) - 1
}

// wait draws how long a container waited in the recorded history's own
// queue (the replay ignores it).
func (g *gen) wait() time.Duration {
	return 30*time.Second + time.Duration(g.r.ExpFloat64()*float64(90*time.Second))
}
