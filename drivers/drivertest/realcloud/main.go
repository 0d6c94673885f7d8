package realcloud

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/sshexec"
)

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitFailed  = 1 // a step failed, or the run was interrupted
	ExitBadArgs = 2 // bad command line or cluster config
)

// Main implements `vmdispatch drivertest -config FILE [-instance-type
// NAME]` (args are the arguments after "drivertest") and returns the
// exit code. known maps Containers.CloudVMs.Driver names to driver
// constructors. Ctrl-C or SIGTERM stops the run; the cleanup still runs.
func Main(args []string, stdout, stderr io.Writer, known map[string]drivers.New) int {
	flags := flag.NewFlagSet("vmdispatch drivertest", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", clusterconfig.DefaultPath, "Arvados cluster config `FILE`")
	typeName := flags.String("instance-type", "", "create an instance of type `NAME` (an InstanceTypes key; default: the cheapest)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, `usage: vmdispatch drivertest [-config FILE] [-instance-type NAME]

Creates one VM through the configured cloud driver, checks that it is
listed, reachable over SSH (with the identity check) and boots, runs a
command on it and destroys it. The VM is destroyed even if a step fails
or the run is interrupted.`)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return ExitBadArgs
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "vmdispatch drivertest: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return ExitBadArgs
	}
	c, err := clusterconfig.Load(*configPath)
	if err != nil {
		hint := ""
		if errors.Is(err, fs.ErrNotExist) {
			hint = " (name the cluster config with -config FILE)"
		}
		fmt.Fprintf(stderr, "vmdispatch drivertest: %v%s\n", err, hint)
		return ExitBadArgs
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := configure(c, *typeName, known, logger)
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch drivertest: %v\n", err)
		return ExitBadArgs
	}
	defer cfg.Cloud.Stop()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cv := cfg.Cluster.Containers.CloudVMs
	fmt.Fprintf(stdout, "driver %s, instance type %s (%s, price %g), image %s, instance set %s\n",
		cv.Driver, cfg.Type.Name, cfg.Type.ProviderType, cfg.Type.Price, cv.ImageID, cfg.Cluster.InstanceSetID)
	err = Test(ctx, cfg, stdout)
	var step *StepError
	switch {
	case err == nil:
		fmt.Fprintln(stdout, "PASS")
		return ExitOK
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "vmdispatch drivertest: interrupted: %v\n", err)
	case errors.As(err, &step):
		fmt.Fprintf(stderr, "vmdispatch drivertest: FAILED at step %q: %v\n", step.Step, step.Err)
	default:
		fmt.Fprintf(stderr, "vmdispatch drivertest: FAILED: %v\n", err)
	}
	return ExitFailed
}

// configure builds Test's configuration from the cluster config, as the
// daemon builds its own: the driver, the SSH keys, the InstanceSetID
// derived from the token. Errors name the config key at fault.
func configure(c *clusterconfig.Cluster, typeName string, known map[string]drivers.New, logger *slog.Logger) (TestConfig, error) {
	dc := c.Dispatcher
	cv := dc.Containers.CloudVMs
	key := c.Source + ": Clusters." + c.ClusterID + "."
	it, err := pickType(dc.InstanceTypes, typeName)
	if err != nil {
		return TestConfig{}, fmt.Errorf("%sInstanceTypes: %w", key, err)
	}
	signers, err := sshexec.ParseKeys(dc.Containers.DispatchPrivateKey)
	if err != nil {
		return TestConfig{}, fmt.Errorf("%sContainers.DispatchPrivateKey: %w", key, err)
	}
	newDriver := known[cv.Driver]
	if newDriver == nil {
		return TestConfig{}, fmt.Errorf("%sContainers.CloudVMs.Driver: %q is not a driver vmdispatch has (have: %s)", key, cv.Driver, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
	}
	dc.InstanceSetID = live.InstanceSetID(c.SystemRootToken)
	cloud, err := newDriver(drivers.Config{
		Parameters:    cv.DriverParameters,
		InstanceSetID: dc.InstanceSetID,
		TagKeyPrefix:  cv.TagKeyPrefix,
		ResourceTags:  cv.ResourceTags,
		Logger:        logger.With("driver", cv.Driver),
	})
	if err != nil {
		return TestConfig{}, fmt.Errorf("%sContainers.CloudVMs.DriverParameters: %w", key, err)
	}
	return TestConfig{Cloud: cloud, Signers: signers, Cluster: dc, Type: it}, nil
}

// pickType returns the instance type called name, or, if name is "", the
// cheapest one, preferring those that are not preemptible (a spot VM may
// be refused or reclaimed for reasons that say nothing about the
// driver); ties go to the first name.
func pickType(types map[string]engine.InstanceType, name string) (engine.InstanceType, error) {
	names := slices.Sorted(maps.Keys(types))
	if len(names) == 0 {
		return engine.InstanceType{}, errors.New("no instance types are configured")
	}
	if name != "" {
		it, ok := types[name]
		if !ok {
			return engine.InstanceType{}, fmt.Errorf("no instance type %q (have: %s)", name, strings.Join(names, ", "))
		}
		it.Name = name
		return it, nil
	}
	best := ""
	for _, n := range names {
		if best == "" || cheaper(types[n], types[best]) {
			best = n
		}
	}
	it := types[best]
	it.Name = best
	return it, nil
}

// cheaper orders types by preemptibility (on-demand first), then price.
func cheaper(a, b engine.InstanceType) bool {
	if a.Preemptible != b.Preemptible {
		return !a.Preemptible
	}
	return cmp.Less(a.Price, b.Price)
}
