package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmdispatch/vmdispatch/engine"
	"github.com/vmdispatch/vmdispatch/live"
	"github.com/vmdispatch/vmdispatch/mgmt"
	"github.com/vmdispatch/vmdispatch/observe"
	"github.com/vmdispatch/vmdispatch/statuspage"
)

// Wiring is what surrounds the live shell.
type Wiring struct {
	// ManagementToken guards the management API ("" answers 403).
	ManagementToken string
	// Listen are the addresses the management API listens on.
	Listen []Listen
	// TLSCertificate and TLSKey are the files the TLS listeners serve
	// with (TLS.Certificate and TLS.Key).
	TLSCertificate, TLSKey string
	// Logger receives every log (JSON in production).
	Logger *slog.Logger
	// RunnerBinary, if set, is the local crunch-run binary deployed to
	// VMs; the health check fails if it cannot be read.
	RunnerBinary string
}

// Listen is one address to listen on, with TLS for https InternalURLs.
type Listen struct {
	Addr string
	TLS  bool
}

// Daemon is a configured dispatcher process.
type Daemon struct {
	shell   *live.Shell
	obs     *observe.Observer
	handler http.Handler
	w       Wiring
	log     *slog.Logger
	stop    func() // releases the cloud driver

	mu        sync.Mutex
	listeners []net.Listener
}

// Assemble builds a daemon around a live shell configuration: metrics
// and lifecycle logs on every step, the management API and the status
// page. New uses it for production; serve --demo with the stub cluster.
func Assemble(lc live.Config, w Wiring) (*Daemon, error) {
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if len(w.Listen) == 0 {
		return nil, errors.New("daemon: no listen address (Services.DispatchCloud.InternalURLs)")
	}
	lc.Logger = w.Logger
	obs := observe.New(observe.Config{Registry: prometheus.NewRegistry(), Logger: w.Logger, Cluster: lc.Cluster})
	prev := lc.OnStep
	lc.OnStep = obs.OnStep
	if prev != nil {
		lc.OnStep = func(e *engine.Engine, now time.Time, events []engine.Event, actions []engine.Action) {
			obs.OnStep(e, now, events, actions)
			prev(e, now, events, actions)
		}
	}
	shell, err := live.New(lc)
	if err != nil {
		return nil, err
	}
	d := &Daemon{shell: shell, obs: obs, w: w, log: w.Logger, stop: lc.Cloud.Stop}
	d.handler = mgmt.New(mgmt.Config{
		Token:      w.ManagementToken,
		Dispatcher: shell,
		Metrics:    obs.Handler(),
		Health:     d.health,
		UI:         statuspage.Handler(),
		Logger:     w.Logger,
	})
	return d, nil
}

// health is the /_health/ping check: the runner binary must still be
// readable, as in Arvados (a package upgrade may have removed it).
func (d *Daemon) health(ctx context.Context) error {
	if d.w.RunnerBinary == "" {
		return nil
	}
	f, err := os.Open(d.w.RunnerBinary)
	if err != nil {
		return fmt.Errorf("error loading runner binary: %w", err)
	}
	return f.Close()
}

// Listen opens the listening sockets, so that a busy port fails before
// anything else starts, and returns their addresses (with the port
// chosen when the configuration says 0).
func (d *Daemon) Listen() ([]net.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var tlsConfig *tls.Config
	for _, a := range d.w.Listen {
		if a.TLS && tlsConfig == nil {
			cert, err := tls.LoadX509KeyPair(d.w.TLSCertificate, d.w.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("https InternalURL %s: TLS.Certificate, TLS.Key: %w", a.Addr, err)
			}
			tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	var addrs []net.Addr
	for _, a := range d.w.Listen {
		l, err := net.Listen("tcp", a.Addr)
		if err != nil {
			for _, l := range d.listeners {
				l.Close()
			}
			d.listeners = nil
			return nil, fmt.Errorf("listen on %s (Services.DispatchCloud.InternalURLs): %w", a.Addr, err)
		}
		addrs = append(addrs, l.Addr())
		if a.TLS {
			l = tls.NewListener(l, tlsConfig)
		}
		d.listeners = append(d.listeners, l)
	}
	return addrs, nil
}

// Run serves the management API and runs the dispatcher until ctx ends
// (SIGTERM): then scheduling stops, the HTTP server shuts down, and VMs
// and containers are left for the next process to adopt.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	need := len(d.listeners) == 0
	d.mu.Unlock()
	if need {
		if _, err := d.Listen(); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.mu.Lock()
	for _, l := range d.listeners {
		d.log.Info("management API listening", "address", l.Addr().String())
		go srv.Serve(l)
	}
	d.mu.Unlock()
	err := d.shell.Run(ctx)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	d.stop()
	d.log.Info("dispatcher stopped")
	return err
}
