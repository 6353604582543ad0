package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/search"
	"github.com/mediavec/mediavec/thumbs"
	"github.com/mediavec/mediavec/worker"
)

// stackConfig is everything `mediavec up` runs with.
type stackConfig struct {
	DataDir    string // JetStream store, index; defaults to ./.mediavec
	HTTPAddr   string // API listen address; defaults to 127.0.0.1:8080
	NATSListen string // NATS listen address; defaults to 127.0.0.1:4222
	Workers    int    // jobs in flight; 0 runs no worker (API and queue only)
	ModelsDir  string
	ORTLib     string
	Session    encoders.SessionConfig // how every model's session runs
	Roots      []string               // when set, the only directories sources may be read from
	Decode     decode.Config
	Worker     worker.Config
	Topology   queue.Topology
	// APIToken, when set, is the bearer token the API requires.
	APIToken string
	// Generation is the collections' generation this process writes
	// (default 1); AlsoWrite, when set, an older one it keeps up to date
	// during a rollout.
	Generation, AlsoWrite int
	// Connect, when set, connects to an existing NATS (mediavec api)
	// instead of starting the embedded server; with Qdrant set too, the
	// stack keeps nothing in DataDir but thumbnails.
	Connect func() (*nats.Conn, error)
	// ThumbsDir holds the frame thumbnails; defaults to DataDir/thumbs.
	// A fleet points every process at one shared folder.
	ThumbsDir string
	// Qdrant, when set, is the index instead of the embedded one in
	// DataDir.
	Qdrant *index.QdrantConfig
	Logger *slog.Logger
}

// stack is a running `mediavec up`.
type stack struct {
	cfg      stackConfig
	lock     *os.File
	nats     *queue.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	statuses *queue.Statuses
	idx      index.Index
	models   *encoders.Set
	reg      *prometheus.Registry
	http     *http.Server
	httpURL  string
	requests sync.WaitGroup     // HTTP handlers running
	abortReq context.CancelFunc // cancels the handlers' contexts
	workers  sync.WaitGroup
	stop     context.CancelFunc
	closers  []func()
}

// startStack starts everything and returns once the API answers. On error,
// whatever was started is stopped again.
func startStack(ctx context.Context, cfg stackConfig) (_ *stack, err error) {
	if cfg.DataDir == "" {
		cfg.DataDir = ".mediavec"
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.NATSListen == "" {
		cfg.NATSListen = "127.0.0.1:4222"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Decode.Roots = cfg.Roots
	s := &stack{cfg: cfg}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// Models first: a missing or corrupt model, or a GPU provider that
	// does not run, fails here, not at the first job.
	if err := encoders.InitRuntime(cfg.ORTLib); err != nil {
		return nil, err
	}
	s.models, err = encoders.LoadAll(cfg.ModelsDir, cfg.Session)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.models.Close() })

	if cfg.Connect != nil {
		if s.nc, err = cfg.Connect(); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.nc.Close)
	} else {
		if err := s.startEmbeddedNATS(cfg); err != nil {
			return nil, err
		}
	}
	s.js, err = jetstream.New(s.nc)
	if err != nil {
		return nil, err
	}
	lanes, err := queue.Ensure(ctx, s.js, cfg.Topology)
	if err != nil {
		return nil, err
	}
	if s.statuses, err = queue.OpenStatuses(ctx, s.js); err != nil {
		return nil, err
	}

	if cfg.Qdrant != nil {
		s.idx, err = index.OpenQdrant(ctx, *cfg.Qdrant)
	} else {
		s.idx, err = index.OpenEmbedded(filepath.Join(cfg.DataDir, "index"))
	}
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.idx.Close() })
	models := analyze.Models{Speech: s.models.Speech, VAD: s.models.VAD, OCR: s.models.OCR, CLIP: s.models.CLIP, CenterNet: s.models.CenterNet}
	analyzer := analyze.New(analyze.Config{Decode: cfg.Decode}, models)
	segSchema, vidSchema := worker.Schemas(analyzer.Spaces())
	if cfg.Generation == 0 {
		cfg.Generation = 1
	}
	targets, err := setupGenerations(ctx, s.idx, segSchema, vidSchema, cfg.Generation, cfg.AlsoWrite)
	if err != nil {
		return nil, err
	}
	if cfg.ThumbsDir == "" {
		cfg.ThumbsDir = filepath.Join(cfg.DataDir, "thumbs")
	}
	thumbStore, err := thumbs.Open(cfg.ThumbsDir)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	s.httpURL = "http://" + ln.Addr().String()
	api := &search.API{
		Searcher: search.NewSearcher(analyzer, s.idx),
		JS:       s.js,
		Statuses: s.statuses,
		Index:    s.idx,
		Thumbs:   thumbStore,
		Token:    cfg.APIToken,
		Metrics:  promhttp.HandlerFor(s.registry(), promhttp.HandlerOpts{}),
		Ready: func() error {
			if !s.nc.IsConnected() {
				return errors.New("nats not connected")
			}
			return nil
		},
		Logger: cfg.Logger,
	}
	// Handlers are counted, so Close can wait for every one of them before
	// it frees the ONNX sessions they may be running.
	handler := api.Handler()
	reqCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	s.abortReq = abort
	s.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			defer s.requests.Done()
			handler.ServeHTTP(w, r)
		}),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("http server stopped", "err", err)
		}
	}()

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if cfg.Workers > 0 {
		wcfg := cfg.Worker
		wcfg.Concurrency = cfg.Workers
		wcfg.Logger = cfg.Logger
		wcfg.Thumbs = thumbStore
		wcfg.Targets = targets
		wcfg.Generation = cfg.Generation
		wcfg.Metrics = worker.NewMetrics(s.registry())
		worker.RegisterBatcher(s.registry(), encoders.SpaceAudioSpeech, s.models.Speech.BatchStats)
		worker.RegisterBatcher(s.registry(), encoders.SpaceFrameCenterNet, s.models.CenterNet.BatchStats)
		if wcfg.Contents, err = queue.OpenContents(ctx, s.js); err != nil {
			return nil, err
		}
		w := worker.New(wcfg, s.js, lanes, s.statuses, analyzer, s.idx)
		s.workers.Go(func() { _ = w.Run(runCtx) })
	}
	return s, nil
}

// registry is the stack's Prometheus registry: the Go and process
// collectors, and the worker's metrics when it runs one.
func (s *stack) registry() *prometheus.Registry {
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return s.reg
}

// startEmbeddedNATS locks the data folder and starts the embedded NATS
// server on it.
func (s *stack) startEmbeddedNATS(cfg stackConfig) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	var err error
	if s.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return err
	}
	s.closers = append(s.closers, func() { s.lock.Close() })
	host, portStr, err := net.SplitHostPort(cfg.NATSListen)
	if err != nil {
		return fmt.Errorf("nats listen address %q: %w", cfg.NATSListen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("nats listen address %q: %w", cfg.NATSListen, err)
	}
	if port == 0 {
		port = -1 // any free port
	}
	s.nats, err = queue.StartEmbedded(queue.EmbeddedConfig{StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Host: host, Port: port})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.nats.Shutdown)
	s.nc, err = nats.Connect(s.nats.ClientURL(), nats.Name("mediavec up"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to embedded nats: %w", err)
	}
	s.closers = append(s.closers, s.nc.Close)
	return nil
}

// NATSURL is the client URL of the NATS the stack uses (with any password:
// for the tests and the local CLI; print NATSURLRedacted).
func (s *stack) NATSURL() string { return s.nc.ConnectedUrl() }

// NATSURLRedacted is NATSURL without a password, for messages.
func (s *stack) NATSURLRedacted() string { return s.nc.ConnectedUrlRedacted() }

// Close stops the API, drains the workers, and closes the index and NATS.
func (s *stack) Close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.http.Shutdown(ctx); err != nil {
			// Slow searches: cancel them (decode stops at once) rather
			// than free what they use under them.
			s.abortReq()
		}
		cancel()
		s.requests.Wait()
		s.abortReq()
	}
	if s.stop != nil {
		s.stop()
	}
	s.workers.Wait()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// lockDataDir takes an exclusive lock on the data folder, so two `up`
// processes never write the same JetStream store and index.
func lockDataDir(dir string) (*os.File, error) {
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
