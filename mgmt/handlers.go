package mgmt

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/vmdispatch/vmdispatch/engine"
)

// GET /arvados/v1/dispatch/containers: the queue in the order the
// scheduler walks it.
func (s *server) containers(w http.ResponseWriter, r *http.Request) {
	var list itemList[queueEntry]
	err := s.view(r, func(e *engine.Engine) {
		q := e.Queue()
		list.Items = make([]queueEntry, 0, len(q))
		for _, ent := range q {
			list.Items = append(list.Items, newQueueEntry(ent))
		}
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// GET /arvados/v1/dispatch/container?container_uuid=: one queue entry.
func (s *server) container(w http.ResponseWriter, r *http.Request) {
	uuid := param(w, r, "container_uuid")
	var (
		ent   queueEntry
		found bool
	)
	err := s.view(r, func(e *engine.Engine) {
		var q engine.QueueEntry
		if q, found = e.Container(uuid); found {
			ent = newQueueEntry(q)
		}
	})
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case !found:
		writeError(w, http.StatusNotFound, "container not found")
	default:
		writeJSON(w, http.StatusOK, ent)
	}
}

// POST /arvados/v1/dispatch/containers/kill: stop a container on every
// VM it runs on.
func (s *server) killContainer(w http.ResponseWriter, r *http.Request) {
	uuid := param(w, r, "container_uuid")
	if uuid == "" {
		writeError(w, http.StatusBadRequest, "container_uuid parameter not provided")
		return
	}
	var running bool
	if err := s.view(r, func(e *engine.Engine) { running = len(e.RunningOn(uuid)) > 0 }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if !running {
		writeError(w, http.StatusNotFound, "container not found")
		return
	}
	ev := engine.KillContainer{UUID: uuid, Reason: operatorReason(engine.ReasonOperatorKillCtr, param(w, r, "reason"))}
	if err := s.do(r, ev); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.log.Info("container kill requested by operator", "container", uuid, "reason", ev.Reason)
	writeJSON(w, http.StatusOK, struct{}{})
}

// GET /arvados/v1/dispatch/instances: every VM, creates in flight last.
func (s *server) instances(w http.ResponseWriter, r *http.Request) {
	var list itemList[instanceView]
	err := s.view(r, func(e *engine.Engine) {
		vms := e.VMs()
		types := e.Config().InstanceTypes
		list.Items = make([]instanceView, 0, len(vms))
		for _, v := range vms {
			list.Items = append(list.Items, newInstanceView(v, types))
		}
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// POST /arvados/v1/dispatch/instances/{hold,drain,run}.
func (s *server) setIdleBehavior(b engine.IdleBehavior) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.knownVM(w, r, "requested instance does not exist")
		if !ok {
			return
		}
		if err := s.do(r, engine.SetIdleBehavior{ID: id, Behavior: b}); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		s.log.Info("idle behavior set by operator", "instance", id, "idle_behavior", string(b))
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// POST /arvados/v1/dispatch/instances/kill: destroy a VM now.
func (s *server) killVM(w http.ResponseWriter, r *http.Request) {
	id, ok := s.knownVM(w, r, "instance not found")
	if !ok {
		return
	}
	ev := engine.KillVM{ID: id, Reason: operatorReason(engine.ReasonOperatorKill, param(w, r, "reason"))}
	if err := s.do(r, ev); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.log.Info("instance kill requested by operator", "instance", id, "reason", ev.Reason)
	writeJSON(w, http.StatusOK, struct{}{})
}

// knownVM reads the instance_id parameter and checks that the engine
// knows that VM; if not, it answers (400, 404 with notFound, or 503).
func (s *server) knownVM(w http.ResponseWriter, r *http.Request, notFound string) (string, bool) {
	id := param(w, r, "instance_id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "instance_id parameter not provided")
		return "", false
	}
	var found bool
	if err := s.view(r, func(e *engine.Engine) { _, found = e.VM(id) }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return "", false
	}
	if !found {
		writeError(w, http.StatusNotFound, notFound)
		return "", false
	}
	return id, true
}

// operatorReason is the reason recorded for an operator's kill: the
// operator's words, marked as theirs so logs and traces tell them from
// the engine's own reasons.
func operatorReason(plain engine.Reason, given string) engine.Reason {
	if given == "" {
		return plain
	}
	return engine.Reason(string(plain) + ": " + given)
}

// GET /metrics and /metrics.json.
func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are not enabled")
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}

// healthBody is Arvados' health check JSON.
type healthBody struct {
	Health string `json:"health"`
	Error  string `json:"error,omitempty"`
}

// GET /_health/{check}: only "ping", as in the Arvados dispatcher.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	if mux.Vars(r)["check"] != "ping" {
		writeError(w, http.StatusNotFound, "unknown health check")
		return
	}
	if s.cfg.Health != nil {
		if err := s.cfg.Health(r.Context()); err != nil {
			writeJSON(w, http.StatusInternalServerError, healthBody{Health: "ERROR", Error: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, healthBody{Health: "OK"})
}
