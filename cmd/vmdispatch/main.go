// Command vmdispatch runs Arvados containers on cloud VMs: the daemon
// (serve), its operator CLI (instance, config check) and the simulator
// (sim). main only parses the command and hands over.
package main

import (
	"fmt"
	"os"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
	"github.com/vmdispatch/vmdispatch/drivers/drivertest/realcloud"
	"github.com/vmdispatch/vmdispatch/mgmt"
	"github.com/vmdispatch/vmdispatch/sim/simcli"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "sim":
		os.Exit(simcli.Main(os.Args[2:], os.Stdout, os.Stderr))
	case "serve":
		os.Exit(serve(os.Args[2:], os.Stdout, os.Stderr))
	case "drivertest":
		os.Exit(realcloud.Main(os.Args[2:], os.Stdout, os.Stderr, knownDrivers))
	case "instance":
		os.Exit(mgmt.InstanceMain(os.Args[2:], os.Stdout, os.Stderr))
	case "config":
		if len(os.Args) < 3 || os.Args[2] != "check" {
			fmt.Fprintln(os.Stderr, "usage: vmdispatch config check [-config FILE]")
			os.Exit(2)
		}
		os.Exit(clusterconfig.CheckMain(os.Args[3:], os.Stdout, os.Stderr, checkDriver))
	case "--version", "-version", "version":
		fmt.Println("vmdispatch", version)
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "vmdispatch: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: vmdispatch serve [-config FILE]
       vmdispatch serve --demo [-listen ADDR]
       vmdispatch config check [-config FILE]
       vmdispatch drivertest [-config FILE] [-instance-type NAME]
       vmdispatch instance list [-header] | hold ID... | drain ID... | run ID... | kill [-reason R] ID...
       vmdispatch sim run FILE [--seed N] [--trace FILE] [--report FILE.html]
       vmdispatch sim run --live [--scale F] [--driver stub|azure] FILE [--seed N]
       vmdispatch sim fuzz --seeds N [--hours H] [--from SEED] [--faults LIST] [--report FILE.html]
       vmdispatch sim replay --queue FILE --config FILE [--compare FILE] [--report FILE.html]
       vmdispatch sim gen-queue [--days D] [--containers N] [--seed S]`)
}
