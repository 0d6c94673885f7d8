package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vmdispatch/vmdispatch/engine"
)

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client may be gone; nothing to do
}

// errorBody is the Arvados error response.
type errorBody struct {
	Errors     []string `json:"errors"`
	ErrorToken string   `json:"error_token"`
}

// writeError answers with err's status (see StatusOf) and an Arvados
// error body. Each error gets its own error_token, which the real server
// also writes to its log so that a user's report can be found there.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	s.mu.Lock()
	s.errSeq++
	token := fmt.Sprintf("fakeapi+%08x", s.errSeq)
	s.mu.Unlock()
	body, _ := json.Marshal(errorBody{Errors: []string{err.Error()}, ErrorToken: token}) // strings always encode
	writeJSON(w, StatusOf(err), body)
}

// record encodes one container with the attributes sel names (nil: all).
func record(c engine.Container, sel []*attr) ([]byte, error) {
	return appendRecord(nil, &c, sel)
}

// listBody encodes a list response; items_available only if p.count.
func listBody(page []engine.Container, p listParams, available int) ([]byte, error) {
	buf := make([]byte, 0, 128+len(page)*64*max(len(p.sel), 4))
	buf = append(buf, `{"kind":"arvados#containerList","offset":`...)
	buf = strconv.AppendInt(buf, int64(p.offset), 10)
	buf = append(buf, `,"limit":`...)
	buf = strconv.AppendInt(buf, int64(p.limit), 10)
	if p.count {
		buf = append(buf, `,"items_available":`...)
		buf = strconv.AppendInt(buf, int64(available), 10)
	}
	buf = append(buf, `,"items":[`...)
	for i := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = appendRecord(buf, &page[i], p.sel); err != nil {
			return nil, err
		}
	}
	return append(buf, "]}"...), nil
}
