package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
	"github.com/vmdispatch/vmdispatch/daemon"
	"github.com/vmdispatch/vmdispatch/drivers"
	"github.com/vmdispatch/vmdispatch/drivers/azure"
)

// knownDrivers are the cloud drivers `serve` can use
// (Containers.CloudVMs.Driver).
var knownDrivers = map[string]drivers.New{
	"azure": azure.New,
}

// driverParams check each driver's DriverParameters without building
// the driver (no credentials, no network), for config check.
var driverParams = map[string]func(json.RawMessage) error{
	"azure": func(raw json.RawMessage) error { _, err := azure.ParseParams(raw); return err },
}

// checkDriver is config check's look at what clusterconfig leaves to the
// driver: its name and its DriverParameters.
func checkDriver(c *clusterconfig.Cluster) error {
	cv := c.Dispatcher.Containers.CloudVMs
	key := c.Source + ": Clusters." + c.ClusterID + ".Containers.CloudVMs."
	check := driverParams[cv.Driver]
	if check == nil {
		return fmt.Errorf("%sDriver: %q is not a driver vmdispatch has (have: %s)", key, cv.Driver, strings.Join(slices.Sorted(maps.Keys(driverParams)), ", "))
	}
	if err := check(cv.DriverParameters); err != nil {
		return fmt.Errorf("%sDriverParameters: %w", key, err)
	}
	return nil
}

// serve runs `vmdispatch serve -config FILE` or `vmdispatch serve --demo`.
func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmdispatch serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/arvados/config.yml", "Arvados cluster config `FILE`")
	demo := fs.Bool("demo", false, "run a self-contained demo: stub cloud, stub VMs on real SSH, a fake Arvados API and a synthetic workload, all in this process")
	listen := fs.String("listen", "127.0.0.1:9006", "with --demo: the management API and status page `address`")
	speedup := fs.Float64("speedup", 1, "with --demo: run the demo's clock `N` times faster (timeouts, boot and run times)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vmdispatch serve [-config FILE]\n       vmdispatch serve --demo [-listen ADDR] [-speedup N]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vmdispatch serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *demo {
		return runDemo(ctx, *listen, *speedup, stdout, stderr, logger)
	}
	c, err := clusterconfig.Load(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve: %v\n", err)
		return 1
	}
	d, err := daemon.New(c, knownDrivers, logger)
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve: %v\n", err)
		return 1
	}
	if _, err := d.Listen(); err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve: %v\n", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "vmdispatch serve: %v\n", err)
		return 1
	}
	return 0
}
