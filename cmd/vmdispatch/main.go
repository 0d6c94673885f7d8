// Command vmdispatch runs Arvados containers on cloud VMs. For now it
// offers the simulator: vmdispatch sim run|fuzz|replay|gen-queue.
package main

import (
	"fmt"
	"os"

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
	fmt.Fprintln(os.Stderr, `usage: vmdispatch sim run FILE [--seed N] [--trace FILE] [--report FILE.html]
       vmdispatch sim run --live [--scale F] FILE [--seed N]
       vmdispatch sim fuzz --seeds N [--hours H] [--from SEED] [--faults LIST] [--report FILE.html]
       vmdispatch sim replay --queue FILE --config FILE [--compare FILE] [--report FILE.html]
       vmdispatch sim gen-queue [--days D] [--containers N] [--seed S]`)
}
