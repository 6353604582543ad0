// Package app is mediavec's one assembly point: from one Config it builds
// models → analyzer → index schemas → generations → worker and API, for
// every command (`up`, `api`, `worker`) and every benchmark, so a process
// and its benchmark run the same pipeline.
//
// No other package that runs in the binary constructs an analyzer or a
// worker from its parts (assembly_test.go checks).
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
	"github.com/mediavec/mediavec/worker"
)

// Stack is a running mediavec process: models, queue, index, and the
// worker pool and HTTP servers its Config asks for.
type Stack struct {
	cfg      Config
	lock     *os.File
	nats     *queue.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	lanes    queue.Lanes
	statuses *queue.Statuses
	idx      index.Index
	models   *encoders.Set
	analyzer *analyze.Analyzer
	thumbs   *thumbs.Store
	worker   *worker.Worker
	reg      *prometheus.Registry
	servers  []*server
	workers  sync.WaitGroup
	stop     context.CancelFunc
	closers  []func()
	// natsTokenPath is where the CLI finds the embedded NATS's token.
	natsTokenPath string
}

// Start builds and starts everything cfg asks for, and returns once the
// HTTP servers accept connections and the worker pool runs. On error,
// whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Stack{cfg: cfg, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// Models first: a missing or corrupt model, or a GPU provider that
	// does not run, fails here, not at the first job.
	if s.models, err = LoadModels(cfg); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.models.Close() })
	if s.analyzer, err = newAnalyzer(cfg, s.models); err != nil {
		return nil, err
	}

	if cfg.Connect == nil || cfg.Qdrant == nil {
		// Something is kept in DataDir: one process at a time.
		if err := s.lockDataDir(); err != nil {
			return nil, err
		}
	}
	if err := s.connectQueue(ctx); err != nil {
		return nil, err
	}
	if s.idx, err = OpenIndex(ctx, cfg); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.idx.Close() })
	if err := s.repairTorn(ctx); err != nil {
		return nil, err
	}
	targets, err := setupGenerations(ctx, s.idx, s.analyzer.Spaces(), cfg.Generation, cfg.AlsoWrite)
	if err != nil {
		return nil, err
	}
	if !cfg.NoThumbs {
		if s.thumbs, err = thumbs.Open(cmp.Or(cfg.ThumbsDir, filepath.Join(cfg.DataDir, "thumbs"))); err != nil {
			return nil, err
		}
	}

	if cfg.Workers > 0 {
		wcfg := cfg.Worker
		wcfg.Thumbs = s.thumbs
		wcfg.Targets = targets
		wcfg.Generation = cfg.Generation
		wcfg.Metrics = worker.NewMetrics(s.reg)
		worker.RegisterBatcher(s.reg, encoders.SpaceAudioSpeech, s.models.Speech.BatchStats)
		worker.RegisterBatcher(s.reg, encoders.SpaceFrameCenterNet, s.models.CenterNet.BatchStats)
		if wcfg.Contents, err = queue.OpenContents(ctx, s.js); err != nil {
			return nil, err
		}
		if s.worker, err = worker.New(wcfg, s.js, s.lanes, s.statuses, s.analyzer, s.idx); err != nil {
			return nil, err
		}
	}
	if err := s.serve(ctx); err != nil {
		return nil, err
	}
	if s.worker != nil {
		runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stop = stop
		s.workers.Go(func() { _ = s.worker.Run(runCtx) })
	}
	return s, nil
}

// connectQueue starts the embedded NATS server (or connects to the fleet's)
// and ensures the topology and the buckets.
func (s *Stack) connectQueue(ctx context.Context) error {
	var err error
	if s.cfg.Connect != nil {
		if s.nc, err = s.cfg.Connect(); err != nil {
			return err
		}
	} else if err := s.startEmbeddedNATS(); err != nil {
		return err
	}
	s.closers = append(s.closers, s.nc.Close)
	if s.js, err = jetstream.New(s.nc); err != nil {
		return err
	}
	if s.lanes, err = queue.Ensure(ctx, s.js, s.cfg.Topology); err != nil {
		return err
	}
	s.statuses, err = queue.OpenStatuses(ctx, s.js)
	return err
}

// startEmbeddedNATS starts the in-process NATS server in DataDir.
func (s *Stack) startEmbeddedNATS() error {
	host, port, err := splitListen(s.cfg.NATSListen)
	if err != nil {
		return err
	}
	token := s.cfg.NATSToken
	if token == "" {
		if token, err = newNATSToken(s.cfg.DataDir); err != nil {
			return err
		}
	}
	s.nats, err = queue.StartEmbedded(queue.EmbeddedConfig{StoreDir: filepath.Join(s.cfg.DataDir, "jetstream"), Host: host, Port: port, Token: token})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.nats.Shutdown)
	if s.cfg.PublishNATSToken {
		u, err := url.Parse(s.nats.ClientURL())
		if err != nil {
			return err
		}
		if s.natsTokenPath, err = publishNATSToken(u.Host, token); err != nil {
			return fmt.Errorf("leave the nats token for the CLI: %w", err)
		}
		// Gone with the server: a client must not offer it to whoever
		// listens on the port next.
		path := s.natsTokenPath
		s.closers = append(s.closers, func() { _ = os.Remove(path) })
	}
	if s.nc, err = nats.Connect(s.nats.ClientURL(), nats.Name("mediavec up"), nats.MaxReconnects(-1)); err != nil {
		return fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nil
}

// lockDataDir locks the stack's data folder for as long as it runs.
func (s *Stack) lockDataDir() error {
	f, err := LockDataDir(s.cfg.DataDir)
	if err != nil {
		return err
	}
	s.lock = f
	s.closers = append(s.closers, func() { f.Close() })
	return nil
}

// LockDataDir takes an exclusive lock on a data folder (creating it), so
// two processes never write the same JetStream store and embedded index;
// closing the file releases it.
func LockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder %s is in use by another mediavec up (%v)", dir, err)
	}
	return f, nil
}

// Close stops the HTTP API (waiting for the requests in flight), drains
// the workers, stops the metrics server, then closes the index, NATS and
// the models. It is safe to call more than once.
func (s *Stack) Close() {
	// The API first: no new query or submission. The probe and metrics
	// server last: a draining worker stays live and observable until its
	// jobs are released.
	for _, srv := range s.servers {
		if !srv.probes {
			srv.close()
		}
	}
	if s.stop != nil {
		s.stop()
	}
	s.workers.Wait()
	for _, srv := range s.servers {
		if srv.probes {
			srv.close()
		}
	}
	s.servers = nil
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// HTTPURL is the API's base URL; "" when it serves none.
func (s *Stack) HTTPURL() string { return s.url(s.cfg.HTTPAddr) }

// MetricsURL is the metrics server's base URL; "" when there is none.
func (s *Stack) MetricsURL() string { return s.url(s.cfg.MetricsAddr) }

func (s *Stack) url(addr string) string {
	for _, srv := range s.servers {
		if srv.addr == addr {
			return "http://" + srv.ln.Addr().String()
		}
	}
	return ""
}

// NATSURL is the client URL of the NATS the stack uses (with any password:
// for the tests and the local CLI; print NATSURLRedacted).
func (s *Stack) NATSURL() string { return s.nc.ConnectedUrl() }

// NATSTokenPath is where the CLI of this user finds the embedded NATS
// server's token ("" unless Config.PublishNATSToken).
func (s *Stack) NATSTokenPath() string { return s.natsTokenPath }

// NATSURLRedacted is NATSURL without a password, for messages.
func (s *Stack) NATSURLRedacted() string {
	u, err := url.Parse(s.nc.ConnectedUrl())
	if err != nil || u.User == nil {
		return s.nc.ConnectedUrlRedacted()
	}
	u.User = nil // a token is the user part: url.Redacted would print it
	return u.String()
}

// JetStream is the stack's JetStream context.
func (s *Stack) JetStream() jetstream.JetStream { return s.js }

// Statuses is the video status bucket.
func (s *Stack) Statuses() *queue.Statuses { return s.statuses }

// Index is the stack's index.
func (s *Stack) Index() index.Index { return s.idx }

// Analyzer is the analyzer the worker and the API use.
func (s *Stack) Analyzer() *analyze.Analyzer { return s.analyzer }

// Worker is the worker pool; nil when the stack runs none.
func (s *Stack) Worker() *worker.Worker { return s.worker }

// ready reports whether the stack can serve: NATS connected.
func (s *Stack) ready() error {
	if !s.nc.IsConnected() {
		return errors.New("nats not connected")
	}
	return nil
}

// server is one of the stack's HTTP listeners.
type server struct {
	addr     string
	probes   bool // the metrics-only server of probes and scrapes
	ln       net.Listener
	http     *http.Server
	requests sync.WaitGroup     // handlers running
	abort    context.CancelFunc // cancels the handlers' contexts
}

// close stops accepting, waits up to ten seconds for the requests in
// flight, then cancels them (a decode stops at once) and waits for them
// to return, so nothing they use is freed under them.
func (v *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := v.http.Shutdown(ctx); err != nil {
		v.abort()
	}
	cancel()
	v.requests.Wait()
	v.abort()
}
