package mgmt

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Dispatcher is the running dispatcher as the management API sees it
// (*live.Shell implements it).
type Dispatcher interface {
	// View runs fn on the engine's goroutine and waits for it; fn only
	// reads. It blocks until the engine runs, and fails once it stopped.
	View(ctx context.Context, fn func(e *engine.Engine)) error
	// Do posts an operator's event for the engine's next step.
	Do(ctx context.Context, ev engine.Event) error
}

// Config is what the management API serves.
type Config struct {
	// Token is Clusters.<id>.ManagementToken. Every path but the UI
	// needs it as a bearer token; when it is "" every such path answers
	// 403, as Arvados does.
	Token string
	// Dispatcher is the engine to serve (required).
	Dispatcher Dispatcher
	// Metrics is served at /metrics and /metrics.json (nil: 404).
	Metrics http.Handler
	// Health is the "ping" health check (nil: always healthy).
	Health func(ctx context.Context) error
	// UI, if not nil, is served without authentication at / and under
	// /_ui/: a static page that asks the browser for the token.
	UI http.Handler
	// EngineTimeout bounds how long a request waits for the engine,
	// which does not answer before it has started (the API must answer
	// first); the request then gets a 503. 0 means 10 seconds.
	EngineTimeout time.Duration
	// Logger receives one line per request; nil discards them.
	Logger *slog.Logger
}

// defaultEngineTimeout is Config.EngineTimeout's default.
const defaultEngineTimeout = 10 * time.Second

// maxFormBytes bounds a request body: parameters are a few IDs.
const maxFormBytes = 1 << 20

// Paths of the management API (reference §7).
const (
	pathContainers    = "/arvados/v1/dispatch/containers"
	pathContainer     = "/arvados/v1/dispatch/container"
	pathContainerKill = "/arvados/v1/dispatch/containers/kill"
	pathInstances     = "/arvados/v1/dispatch/instances"
)

// Messages of the Arvados dispatcher and its auth layer.
const (
	msgNotConfigured = "Management API authentication is not configured"
	msgNoToken       = "Authorization required"
	msgBadToken      = "Authorization error"
)

type server struct {
	cfg     Config
	log     *slog.Logger
	timeout time.Duration
	// tokenSum is the token's SHA-256: comparing digests keeps the
	// comparison constant-time whatever the lengths.
	tokenSum [sha256.Size]byte
}

// New returns the management API's handler.
func New(cfg Config) http.Handler {
	s := &server{cfg: cfg, log: cfg.Logger, timeout: cfg.EngineTimeout}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.timeout <= 0 {
		s.timeout = defaultEngineTimeout
	}
	s.tokenSum = sha256.Sum256([]byte(cfg.Token))

	r := mux.NewRouter()
	auth := func(f http.HandlerFunc) http.Handler { return s.auth(f) }
	r.Handle(pathContainers, auth(s.containers)).Methods(http.MethodGet)
	r.Handle(pathContainer, auth(s.container)).Methods(http.MethodGet)
	r.Handle(pathContainerKill, auth(s.killContainer)).Methods(http.MethodPost)
	r.Handle(pathInstances, auth(s.instances)).Methods(http.MethodGet)
	for _, b := range []engine.IdleBehavior{engine.IdleHold, engine.IdleDrain, engine.IdleRun} {
		r.Handle(pathInstances+"/"+string(b), auth(s.setIdleBehavior(b))).Methods(http.MethodPost)
	}
	r.Handle(pathInstances+"/kill", auth(s.killVM)).Methods(http.MethodPost)
	r.Handle("/metrics", auth(s.metrics)).Methods(http.MethodGet)
	r.Handle("/metrics.json", auth(s.metrics)).Methods(http.MethodGet)
	r.Handle("/_health/{check}", auth(s.health)).Methods(http.MethodGet)
	if cfg.UI != nil {
		r.Handle("/", cfg.UI).Methods(http.MethodGet, http.MethodHead)
		r.PathPrefix("/_ui/").Handler(cfg.UI).Methods(http.MethodGet, http.MethodHead)
	}
	// As in Arvados, the whole API sits behind the token: without it,
	// unknown paths say 401, not what exists.
	r.NotFoundHandler = auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	r.MethodNotAllowedHandler = auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	return s.logRequests(r)
}

// auth lets a request through if it carries the management token
// (auth.RequireLiteralToken in Arvados).
func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" {
			writeError(w, http.StatusForbidden, msgNotConfigured)
			return
		}
		token, ok := bearer(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, msgNoToken)
			return
		}
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
			writeError(w, http.StatusForbidden, msgBadToken)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header
// (or "OAuth2 <token>", which Arvados also accepts).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "OAuth2 "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			return strings.TrimSpace(h[len(scheme):]), true
		}
	}
	return "", false
}

// view runs fn on the engine's goroutine, giving up after the engine
// timeout; the error says why the engine could not be reached.
func (s *server) view(r *http.Request, fn func(e *engine.Engine)) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	if err := s.cfg.Dispatcher.View(ctx, fn); err != nil {
		return s.engineError(ctx, err)
	}
	return nil
}

// do posts an operator's event.
func (s *server) do(r *http.Request, ev engine.Event) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	if err := s.cfg.Dispatcher.Do(ctx, ev); err != nil {
		return s.engineError(ctx, err)
	}
	return nil
}

// engineError explains why the engine could not be reached: it has not
// started (it waits for the Arvados API to answer) or it stopped.
func (s *server) engineError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("dispatcher is not ready: the engine did not answer within %v (it starts once the Arvados API answers)", s.timeout)
	}
	return fmt.Errorf("dispatcher is not running: %w", err)
}

// errorBody is Arvados' error JSON (httpserver.Error).
type errorBody struct {
	Errors []string `json:"errors"`
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// writeError answers status with Arvados' error JSON, and notes msg for
// the request's log line.
func writeError(w http.ResponseWriter, status int, msg string) {
	if rec, ok := w.(*recorder); ok {
		rec.err = msg
	}
	writeJSON(w, status, errorBody{Errors: []string{msg}})
}

// param returns a query or form parameter.
func param(w http.ResponseWriter, r *http.Request, name string) string {
	if r.Form == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		_ = r.ParseForm() // a bad body reads as missing parameters
	}
	return r.Form.Get(name)
}

// recorder remembers the status a handler answered, for the log.
type recorder struct {
	http.ResponseWriter
	status int
	err    string
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer (metrics
// handlers may flush).
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests logs one line per request: never its headers or query,
// which may hold the token.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		attrs := []any{
			"method", r.Method,
			"path", r.URL.Path,
			"status", rec.status,
			"duration", time.Since(start).String(),
			"remote_addr", r.RemoteAddr,
		}
		if rec.err != "" {
			attrs = append(attrs, "error", rec.err)
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "management request", attrs...)
	})
}
