package engine

import "strings"

// RunList is what crunch-run --list reported.
type RunList struct {
	// Running are UUIDs with a live crunch-run process.
	Running []string
	// Stale are UUIDs whose lock is held although crunch-run is gone
	// (typically a stuck arv-mount that inherited the lock).
	Stale []string
	// Broken: the node reported itself broken (crunch-run saw the docker
	// daemon or the disk fail).
	Broken bool
}

// ParseRunList parses the stdout of crunch-run --list. Lines for other
// clusters (not starting with clusterID) are ignored, since several
// clusters may share a host; blank lines and unknown second words are
// ignored too, so a newer crunch-run cannot confuse an older dispatcher.
func ParseRunList(out, clusterID string) RunList {
	var rl RunList
	for len(out) > 0 {
		line := out
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = ""
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if line == "broken" {
			rl.Broken = true
			continue
		}
		if clusterID != "" && !strings.HasPrefix(line, clusterID) {
			continue
		}
		uuid, rest, _ := strings.Cut(line, " ")
		switch strings.TrimSpace(rest) {
		case "":
			rl.Running = append(rl.Running, uuid)
		case "stale":
			rl.Stale = append(rl.Stale, uuid)
		}
	}
	return rl
}
