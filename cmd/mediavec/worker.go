package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
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
	"github.com/mediavec/mediavec/thumbs"
	"github.com/mediavec/mediavec/worker"
)

// natsOptions are the flags that connect to an existing NATS server or
// cluster.
type natsOptions struct {
	url, creds, nkey, ca, cert, key *string
}

func natsConnFlags(fs *flag.FlagSet) natsOptions {
	return natsOptions{
		url:   natsFlag(fs),
		creds: fs.String("nats-creds", "", "NATS credentials file (JWT and seed)"),
		nkey:  fs.String("nats-nkey", "", "NATS nkey seed file"),
		ca:    fs.String("nats-tls-ca", "", "CA bundle that signs the NATS servers' certificates (turns TLS on)"),
		cert:  fs.String("nats-tls-cert", "", "client certificate for NATS mutual TLS"),
		key:   fs.String("nats-tls-key", "", "client key for NATS mutual TLS"),
	}
}

// connect dials NATS with the options given, reconnecting for ever: a
// NATS restart or a cluster failover pauses the worker, never ends it.
func (o natsOptions) connect(name string, log *slog.Logger) (*nats.Conn, error) {
	return o.dial(name,
		nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }))
}

// dial connects with the credentials, nkey and TLS options given.
func (o natsOptions) dial(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name)}, extra...)
	if *o.creds != "" {
		opts = append(opts, nats.UserCredentials(*o.creds))
	}
	if *o.nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(*o.nkey)
		if err != nil {
			return nil, fmt.Errorf("%w: nats nkey: %v", errUsage, err)
		}
		opts = append(opts, opt)
	}
	if *o.ca != "" || *o.cert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if *o.ca != "" {
			pem, err := os.ReadFile(*o.ca)
			if err != nil {
				return nil, fmt.Errorf("%w: nats tls ca: %v", errUsage, err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: nats tls ca %s holds no certificate", errUsage, *o.ca)
			}
		}
		if *o.cert != "" {
			pair, err := tls.LoadX509KeyPair(*o.cert, *o.key)
			if err != nil {
				return nil, fmt.Errorf("%w: nats tls client certificate: %v", errUsage, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, nats.Secure(cfg))
	}
	nc, err := nats.Connect(*o.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", redactURL(*o.url), err)
	}
	return nc, nil
}

// redactURL hides the password of every user:password@ in a (comma
// separated) NATS URL, for messages and logs.
func redactURL(u string) string {
	return regexp.MustCompile(`//([^:/@,]+):[^@/,]*@`).ReplaceAllString(u, "//$1:xxxxx@")
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", "worker --qdrant HOST:PORT [flags]", stderr)
	nopts := natsConnFlags(fs)
	concurrency := fs.Int("concurrency", 2, "jobs in flight")
	qopts := qdrantFlags(fs, "host:port of the Qdrant gRPC endpoint every worker writes to (required)")
	thumbsDir := fs.String("thumbs", "", "shared folder for frame thumbnails (default: none are kept)")
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	provider := fs.String("provider", "cpu", "ONNX Runtime execution provider: cpu, cuda or tensorrt (self-tested at start)")
	device := fs.Int("device", 0, "GPU ordinal for --provider cuda or tensorrt")
	intraOp := fs.Int("intra-op-threads", 1, "threads one model inference may use")
	graphOpt := fs.String("graph-opt", "all", "ONNX graph optimisation: all, extended, basic or none")
	sampling := fs.String("sampling", "fps=1", "frame sampling policy: fps=N, keyframes or scenes[=THRESHOLD]")
	roots := fs.String("roots", "", "comma-separated folders that file sources must be under (default: any)")
	allowPrivate := fs.Bool("http-allow-private", false, "let http(s) sources reach loopback and private addresses")
	maxDuration := fs.Duration("max-duration", 2*time.Hour, "longest video accepted")
	topology := topologyFlags(fs, "replicas of every stream (3 on a cluster)")
	drain := fs.Duration("drain-timeout", 30*time.Second, "on SIGTERM, how long jobs in flight may finish before they are released")
	generation := fs.Int("generation", 1, "the collections' generation this worker writes (segments_gN, videos_gN); a new model set is a new generation")
	alsoWrite := fs.Int("also-write-generation", 0, "during a rollout, also keep this older generation up to date (dual write); 0: none")
	metricsAddr := fs.String("metrics", "127.0.0.1:9090", "address of /metrics, /healthz and /readyz (\"\": none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	qcfg, err := qopts.config()
	if err != nil {
		return err
	}
	if qcfg == nil {
		return fmt.Errorf("%w: a worker needs --qdrant: workers on several machines share one index (mediavec up runs the embedded one)", errUsage)
	}
	if *concurrency < 1 {
		return fmt.Errorf("%w: --concurrency must be at least 1", errUsage)
	}
	scfg := encoders.SessionConfig{Provider: *provider, Device: *device, IntraOpThreads: *intraOp, Optimization: *graphOpt}
	if err := scfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	policy, err := decode.ParsePolicy(*sampling)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log := slog.Default().With("worker", hostname())

	// Models first: a broken model or provider fails before any job is
	// taken.
	if err := encoders.InitRuntime(*ortLib); err != nil {
		return err
	}
	set, err := encoders.LoadAll(*models, scfg)
	if err != nil {
		return err
	}
	defer set.Close()

	nc, err := nopts.connect("mediavec worker "+hostname(), log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	topo := topology()
	lanes, err := queue.Ensure(ctx, js, topo)
	if err != nil {
		return err
	}
	statuses, err := queue.OpenStatuses(ctx, js)
	if err != nil {
		return err
	}
	ix, err := index.OpenQdrant(ctx, *qcfg)
	if err != nil {
		return err
	}
	defer ix.Close()

	dcfg := decode.Config{Sampling: policy, MaxDuration: *maxDuration, HTTP: decode.HTTPPolicy{AllowPrivate: *allowPrivate},
		Threads: max(1, runtime.NumCPU() / *concurrency)}
	if *roots != "" {
		dcfg.Roots = splitList(*roots)
	}
	analyzer := analyze.New(analyze.Config{Decode: dcfg}, analyze.Models{Speech: set.Speech, VAD: set.VAD, OCR: set.OCR, CLIP: set.CLIP, CenterNet: set.CenterNet})
	segSchema, vidSchema := worker.Schemas(analyzer.Spaces())
	targets, err := setupGenerations(ctx, ix, segSchema, vidSchema, *generation, *alsoWrite)
	if err != nil {
		return err
	}
	wcfg := worker.Config{Concurrency: *concurrency, DrainTimeout: *drain, Heartbeat: topo.AckWait / 3, Logger: log, Targets: targets, Generation: *generation}
	if wcfg.Contents, err = queue.OpenContents(ctx, js); err != nil {
		return err
	}
	if *thumbsDir != "" {
		if wcfg.Thumbs, err = thumbs.Open(*thumbsDir); err != nil {
			return err
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wcfg.Metrics = worker.NewMetrics(reg)
	worker.RegisterBatcher(reg, encoders.SpaceAudioSpeech, set.Speech.BatchStats)
	worker.RegisterBatcher(reg, encoders.SpaceFrameCenterNet, set.CenterNet.BatchStats)
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			if !nc.IsConnected() {
				http.Error(w, "nats not connected", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ready")
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		defer srv.Close()
		fmt.Fprintf(stdout, "mediavec worker: metrics on http://%s/metrics\n", ln.Addr())
	}

	fmt.Fprintf(stdout, "mediavec worker: %d jobs at a time from %s into Qdrant at %s. SIGTERM drains.\n", *concurrency, nc.ConnectedUrlRedacted(), qcfg.Addr)
	w := worker.New(wcfg, js, lanes, statuses, analyzer, ix)
	err = w.Run(ctx)
	fmt.Fprintln(stdout, "mediavec worker: stopped")
	return err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "worker"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// plainNATS is the options of a URL without credentials or TLS.
func plainNATS(url string) natsOptions {
	empty := func() *string { s := ""; return &s }
	return natsOptions{url: &url, creds: empty(), nkey: empty(), ca: empty(), cert: empty(), key: empty()}
}
