package fakeapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Tokens maps each API token the server accepts to its
	// api_client_authorization UUID (e.g. "zzzzz-gj3su-000000000000000");
	// that UUID is the "auth" the Store records as locked_by_uuid.
	Tokens map[string]string
	// AdminToken may also create containers (POST
	// arvados/v1/containers). It must be one of Tokens; "" means no
	// token may create.
	AdminToken string
}

// Route names, as Requests counts them.
const (
	routeList    = "containers.list"
	routeGet     = "containers.get"
	routeCreate  = "containers.create"
	routeUpdate  = "containers.update"
	routeLock    = "containers.lock"
	routeUnlock  = "containers.unlock"
	routeCurrent = "api_client_authorizations.current"
)

// maxBodyBytes bounds a request body: the longest the dispatcher sends is
// a list of 20 UUIDs, or a runtime_status.
const maxBodyBytes = 8 << 20

// Server serves a Store over HTTP as the Arvados API server's subset a
// dispatcher uses (reference §3.2), under /arvados/v1:
//
//	GET  containers                     list (filters, order, select, limit, offset, count)
//	POST containers with _method=GET    list, parameters in a form body (long queries)
//	POST containers                     create, body {"container":{...}}; admin token only
//	GET  containers/{uuid}              get (select)
//	PUT  containers/{uuid}              update, body {"container":{...}}; PATCH too
//	POST containers/{uuid}/lock         lock for the caller's token
//	POST containers/{uuid}/unlock       unlock
//	GET  api_client_authorizations/current
//
// Every request needs "Authorization: Bearer <token>" or "OAuth2
// <token>" with a token of ServerConfig.Tokens. Answers are JSON; errors
// are {"errors":[...],"error_token":...} with the status of the Store's
// *Error. A Server is safe for concurrent use.
type Server struct {
	store  *Store
	tokens map[string]string
	admin  string
	mux    *http.ServeMux

	mu       sync.Mutex
	faults   Faults
	requests map[string]int
	errSeq   int
	created  int
}

// NewServer returns a Server answering for store. It fails if a token
// or auth UUID is empty, or if AdminToken is not one of Tokens.
func NewServer(store *Store, cfg ServerConfig) (*Server, error) {
	if store == nil {
		return nil, errors.New("fakeapi: NewServer needs a Store")
	}
	for _, token := range slices.Sorted(maps.Keys(cfg.Tokens)) {
		if token == "" || cfg.Tokens[token] == "" {
			return nil, fmt.Errorf("fakeapi: empty token or auth UUID in Tokens (auth %q)", cfg.Tokens[token])
		}
	}
	if _, ok := cfg.Tokens[cfg.AdminToken]; cfg.AdminToken != "" && !ok {
		return nil, errors.New("fakeapi: AdminToken is not one of Tokens")
	}
	s := &Server{
		store:    store,
		tokens:   maps.Clone(cfg.Tokens),
		admin:    cfg.AdminToken,
		mux:      http.NewServeMux(),
		requests: map[string]int{},
	}
	const ctrs = "/arvados/v1/containers"
	s.mux.Handle("GET "+ctrs, s.route(routeList, s.listContainers))
	s.mux.HandleFunc("POST "+ctrs, s.postContainers)
	s.mux.Handle("GET "+ctrs+"/{uuid}", s.route(routeGet, s.getContainer))
	s.mux.Handle("PUT "+ctrs+"/{uuid}", s.route(routeUpdate, s.updateContainer))
	s.mux.Handle("PATCH "+ctrs+"/{uuid}", s.route(routeUpdate, s.updateContainer))
	s.mux.Handle("POST "+ctrs+"/{uuid}/lock", s.route(routeLock, s.lockContainer))
	s.mux.Handle("POST "+ctrs+"/{uuid}/unlock", s.route(routeUnlock, s.unlockContainer))
	s.mux.Handle("GET /arvados/v1/api_client_authorizations/current", s.route(routeCurrent, s.currentAuth))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, &Error{Status: http.StatusNotFound, Message: "Path not found"})
	})
	return s, nil
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	s.mux.ServeHTTP(w, r)
}

// Requests returns how many requests the server has received, by route
// name: "containers.list", "containers.get", "containers.create",
// "containers.update", "containers.lock", "containers.unlock" and
// "api_client_authorizations.current". Refused requests count too (a
// 401, a 503 injected by Faults, a client that gave up waiting): they
// are API load all the same. A request counts before it is answered, so
// a client that has its answer sees it counted.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// caller is who sent a request.
type caller struct {
	token string
	// auth is the token's UUID: what the Store records as locked_by_uuid.
	auth  string
	admin bool
}

// handler answers an authenticated request with a JSON body, or an error
// for writeError.
type handler func(r *http.Request, who caller) ([]byte, error)

// route wraps h with what every route does: count, inject faults,
// authenticate, answer.
func (s *Server) route(name string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, name, h)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, name string, h handler) {
	s.mu.Lock()
	s.requests[name]++
	s.mu.Unlock()
	if err := s.inject(r.Context()); err != nil {
		if r.Context().Err() != nil {
			return // the client gave up: nobody to answer
		}
		s.writeError(w, err)
		return
	}
	who, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	body, err := h(r, who)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// authenticate finds the caller from the Authorization header. Like
// Arvados, it answers 401 "Not logged in" both without a token and with
// one it does not know.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth2") {
		return caller{}, errNoToken()
	}
	auth, ok := s.tokens[token]
	if !ok || token == "" {
		return caller{}, errNoToken()
	}
	return caller{token: token, auth: auth, admin: token == s.admin}, nil
}

// postContainers is a list when the client says the POST stands for a
// GET (the Go SDK does for queries too long for a URL: form body with
// _method=GET, or an X-Http-Method-Override header), and a create
// otherwise.
func (s *Server) postContainers(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("X-Http-Method-Override"), "GET") ||
		(isForm(r) && r.ParseForm() == nil && strings.EqualFold(r.Form.Get("_method"), "GET")) {
		s.serve(w, r, routeList, s.listContainers)
		return
	}
	s.serve(w, r, routeCreate, s.createContainer)
}
