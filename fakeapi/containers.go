package fakeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/vmdispatch/vmdispatch/engine"
)

// This file holds the route handlers: each parses its request, makes one
// Store call with the caller's auth UUID and encodes the answer.

func errBadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// isForm reports whether r has a form-encoded body, as the Arvados SDKs
// send parameters.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// parseForm gathers the parameters from the query string and a form
// body.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("cannot parse parameters: %v", err)
	}
	return nil
}

func (s *Server) listContainers(r *http.Request, _ caller) ([]byte, error) {
	if err := parseForm(r); err != nil {
		return nil, err
	}
	p, err := parseListParams(r.Form)
	if err != nil {
		return nil, err
	}
	page, available := s.list(p)
	return listBody(page, p, available)
}

// recordParams parses the parameters of a request answered with one
// record: the select. It runs before the Store is asked, so that a
// malformed parameter refuses the request whatever the container.
func recordParams(r *http.Request) ([]*attr, error) {
	if err := parseForm(r); err != nil {
		return nil, err
	}
	return parseSelect(r.Form.Get("select"))
}

// answerRecord encodes c with the attributes sel names, or passes err on.
func answerRecord(c engine.Container, sel []*attr, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return record(c, sel)
}

func (s *Server) getContainer(r *http.Request, who caller) ([]byte, error) {
	sel, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Container(who.auth, r.PathValue("uuid"))
	return answerRecord(c, sel, err)
}

func (s *Server) lockContainer(r *http.Request, who caller) ([]byte, error) {
	sel, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Lock(who.auth, r.PathValue("uuid"))
	return answerRecord(c, sel, err)
}

func (s *Server) unlockContainer(r *http.Request, who caller) ([]byte, error) {
	sel, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Unlock(who.auth, r.PathValue("uuid"))
	return answerRecord(c, sel, err)
}

// updateContainer maps the body's attributes onto an Update: the Store
// applies the server's rules, including who may change what. Priority
// is one of them (anyone may change it), so an admin's priority change
// is an Update too.
func (s *Server) updateContainer(r *http.Request, who caller) ([]byte, error) {
	sel, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	attrs, _, err := containerAttrs(r)
	if err != nil {
		return nil, err
	}
	var u Update
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		switch name {
		case "state":
			err = decodeAttr(name, v, &u.State)
		case "priority":
			err = decodeAttr(name, v, &u.Priority)
		case "exit_code":
			err = decodeAttr(name, v, &u.ExitCode)
		case "runtime_status":
			err = decodeAttr(name, v, &u.RuntimeStatus)
		default:
			err = errUnknownAttr(name)
			if attrByName[name] != nil {
				err = errUnprocessable("attribute '%s' of Container cannot be updated", name)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	c, err := s.store.Update(who.auth, r.PathValue("uuid"), u)
	return answerRecord(c, sel, err)
}

// createContainer adds a container, as an admin. Without a uuid the
// server makes one up, with the admin token's cluster prefix.
func (s *Server) createContainer(r *http.Request, who caller) ([]byte, error) {
	sel, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	if !who.admin {
		return nil, &Error{Status: http.StatusForbidden, Message: "Forbidden: only an admin token may create containers"}
	}
	attrs, raw, err := containerAttrs(r)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		if attrByName[name] == nil {
			return nil, errUnknownAttr(name)
		}
	}
	var c engine.Container
	if err := decodeAttr("container", raw, &c); err != nil {
		return nil, err
	}
	if c.UUID == "" {
		c.UUID = s.newUUID(who.auth)
	}
	if err := s.store.Add(c); err != nil {
		return nil, err
	}
	c, err = s.store.Get(c.UUID)
	return answerRecord(c, sel, err)
}

// newUUID returns an unused container UUID under auth's cluster prefix.
func (s *Server) newUUID(auth string) string {
	prefix, _, ok := strings.Cut(auth, "-")
	if !ok || prefix == "" {
		prefix = "zzzzz"
	}
	for {
		s.mu.Lock()
		s.created++
		uuid := fmt.Sprintf("%s-dz642-%015d", prefix, s.created)
		s.mu.Unlock()
		if _, err := s.store.Get(uuid); err != nil {
			return uuid
		}
	}
}

func errUnknownAttr(name string) *Error {
	return errUnprocessable("unknown attribute '%s' for Container.", name)
}

// containerAttrs returns the attributes of the request's "container",
// and its JSON text: from a JSON body {"container":{...}}, or from a
// form field holding the JSON object.
func containerAttrs(r *http.Request) (map[string]json.RawMessage, []byte, error) {
	var raw []byte
	if isForm(r) {
		raw = []byte(r.Form.Get("container"))
	} else {
		var body map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, nil, &Error{Status: http.StatusRequestEntityTooLarge, Message: err.Error()}
			}
			return nil, nil, errBadRequest("cannot parse JSON body: %v", err)
		}
		raw = body["container"]
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil, errUnprocessable("Invalid container parameter: missing")
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		return nil, nil, errUnprocessable("Invalid container parameter: not a JSON object")
	}
	return attrs, raw, nil
}

// decodeAttr decodes attribute name's JSON value into v (a pointer to a
// pointer or a map, so that null is told apart). null is refused: no
// attribute the server lets a client write may be null.
func decodeAttr(name string, raw json.RawMessage, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return errUnprocessable("%s cannot be null", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errUnprocessable("invalid %s: %v", name, err)
	}
	return nil
}

// currentAuth is what GET api_client_authorizations/current answers.
type currentAuth struct {
	Kind     string   `json:"kind"`
	UUID     string   `json:"uuid"`
	APIToken string   `json:"api_token"`
	Scopes   []string `json:"scopes"`
}

func (s *Server) currentAuth(_ *http.Request, who caller) ([]byte, error) {
	return json.Marshal(currentAuth{Kind: "arvados#apiClientAuthorization", UUID: who.auth, APIToken: who.token, Scopes: []string{"all"}})
}
