package simcli

import (
	"os"

	"github.com/vmdispatch/vmdispatch/sim/report"
)

// writeReport writes the HTML report of runs to f and closes it; f is
// closed on error too.
func writeReport(f *os.File, title string, runs []report.Run) error {
	if err := report.Write(f, title, runs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
