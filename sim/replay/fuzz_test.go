package replay

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse: the history parser (Arvados API JSON, one record per line)
// never panics, and either returns a history whose containers all have
// a UUID, or an error that names a line of the input.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"uuid":"zzzzz-dz642-000000000000001","state":"Complete","priority":1,"created_at":"2026-01-01T00:00:00Z","started_at":"2026-01-01T00:01:00Z","finished_at":"2026-01-01T00:11:00Z","exit_code":0,"runtime_constraints":{"vcpus":1,"ram":1073741824},"scheduling_parameters":{}}`,
		`{"uuid":"zzzzz-dz642-000000000000002","state":"Cancelled","priority":5,"created_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:05:00Z"}`,
		`{"items":[]}`,
		`[1,2]`,
		``,
		"{\"uuid\":\"x\"}\n{\"uuid\":\"x\"}",
		`{"uuid":"zzzzz-dz642-000000000000003","created_at":"not a time"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Parse(bytes.NewReader(data), "fuzz.jsonl")
		if err != nil {
			var pe *ParseError
			var le *LineError
			if !errors.As(err, &pe) && !errors.As(err, &le) && err.Error() == "" {
				t.Fatalf("unhelpful error %#v", err)
			}
			return
		}
		for _, c := range h.Containers {
			if c.Record.UUID == "" {
				t.Fatalf("container without a UUID in %q", data)
			}
		}
	})
}
