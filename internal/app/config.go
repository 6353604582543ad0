package app

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"

	"github.com/nats-io/nats.go"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/worker"
)

// Config is everything a mediavec process is built from — `up`, `api`,
// `worker` and the benchmarks alike. Each zero field takes the default
// named beside it; the commands' flags default to the same constants.
type Config struct {
	// ModelsDir holds the models; defaults to encoders.DefaultModelsDir().
	ModelsDir string
	// ORTLib is the ONNX Runtime library; defaults to
	// encoders.DefaultORTLib().
	ORTLib string
	// Session says how every model's session runs.
	Session encoders.SessionConfig
	// OCR sets on-screen text reading: Tesseract's languages.
	OCR encoders.OCRConfig
	// Analyze sets sampling, decode limits and the stages' limits. Its
	// Decode.Threads defaults to the cores shared between the jobs in
	// flight.
	Analyze analyze.Config

	// Workers is how many jobs run at once; 0 runs no worker (an API
	// only).
	Workers int
	// Worker sets the pool; its Concurrency is Workers, and its Heartbeat
	// defaults to a third of Topology.AckWait.
	Worker worker.Config
	// Topology sets the streams and consumers; its JobTimeout is the
	// worker's unless Worker says otherwise (and then no longer).
	Topology queue.Topology

	// DataDir holds what the process keeps itself: the embedded JetStream
	// store and the embedded index (each when used) and, by default, the
	// thumbnails. Defaults to DefaultDataDir. A process that keeps
	// anything there takes a lock on it.
	DataDir string
	// Qdrant, when set, is the index instead of the embedded one in
	// DataDir/index.
	Qdrant *qdrant.Config
	// ThumbsDir holds the frame thumbnails; defaults to DataDir/thumbs.
	// A fleet points every process at one shared folder.
	ThumbsDir string
	// NoThumbs keeps no thumbnails (a worker without a shared folder).
	NoThumbs bool
	// Generation is the collections' generation this process writes and
	// creates (segments_gN, videos_gN); defaults to 1. AlsoWrite, when
	// set, is an older one it keeps up to date during a rollout.
	Generation, AlsoWrite int

	// NATSListen is where the embedded NATS server listens for clients;
	// defaults to DefaultNATSListen (port 0: any free port).
	NATSListen string
	// NATSToken is the token the embedded NATS server requires; empty
	// makes a new one each start, in DataDir/nats.token. It is never off:
	// an open NATS port lets anyone on the machine submit, forge and purge.
	NATSToken string
	// PublishNATSToken leaves the token where the CLI of this user finds
	// it (NATSTokenFile), as `mediavec up` does.
	PublishNATSToken bool
	// Connect, when set, connects to an existing NATS (a fleet) instead of
	// starting the embedded server.
	Connect func() (*nats.Conn, error)

	// HTTPAddr is where the HTTP API and search page listen; "" serves
	// none (a worker).
	HTTPAddr string
	// MetricsAddr, when set, serves /metrics, /healthz and /readyz alone
	// there: a worker's probe and scrape port.
	MetricsAddr string
	// APIToken, when set, is the bearer token the API requires.
	APIToken string
	// AllowedHosts are the host names the API answers to beyond IP
	// literals, localhost and HTTPAddr's own host (api.API.AllowedHosts).
	AllowedHosts []string

	Logger *slog.Logger
}

// Defaults the commands share.
const (
	DefaultDataDir    = ".mediavec"
	DefaultHTTPAddr   = "127.0.0.1:8080"
	DefaultNATSListen = "127.0.0.1:4222"
	DefaultGeneration = 1
	// DefaultMetricsAddr is where a worker serves /metrics, /healthz and
	// /readyz.
	DefaultMetricsAddr = "127.0.0.1:9090"
)

// withDefaults fills every zero field, the nested configurations' included
// where the assembly decides them (threads, heartbeat, concurrency).
func (c Config) withDefaults() Config {
	c.ModelsDir = cmp.Or(c.ModelsDir, encoders.DefaultModelsDir())
	c.ORTLib = cmp.Or(c.ORTLib, encoders.DefaultORTLib())
	c.DataDir = cmp.Or(c.DataDir, DefaultDataDir)
	c.NATSListen = cmp.Or(c.NATSListen, DefaultNATSListen)
	c.Generation = cmp.Or(c.Generation, DefaultGeneration)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Topology = c.Topology.WithDefaults()
	// One job timeout for the fleet: the topology's, which sizes the
	// dead-letter dedup window every process applies.
	c.Worker.JobTimeout = cmp.Or(c.Worker.JobTimeout, c.Topology.JobTimeout)
	c.Worker.Concurrency = c.Workers
	c.Worker.Heartbeat = cmp.Or(c.Worker.Heartbeat, worker.HeartbeatFor(c.Topology.AckWait))
	c.Worker.Logger = cmp.Or(c.Worker.Logger, c.Logger)
	c.Analyze.Decode.Threads = cmp.Or(c.Analyze.Decode.Threads, decodeThreads(c.Workers))
	return c
}

// decodeThreads splits the cores between the jobs in flight rather than
// let every decoder start one thread per core.
func decodeThreads(workers int) int { return max(1, runtime.NumCPU()/max(1, workers)) }

// Validate checks the configuration and every configuration inside it,
// across them too: a heartbeat well within AckWait, a job timeout the
// dead-letter dedup window covers.
func (c Config) Validate() error {
	if c.Workers < 0 {
		return fmt.Errorf("app: Workers %d is negative", c.Workers)
	}
	if c.Generation < 0 || c.AlsoWrite < 0 {
		return fmt.Errorf("app: generations count from 1 (Generation %d, AlsoWrite %d)", c.Generation, c.AlsoWrite)
	}
	if c.AlsoWrite != 0 && c.AlsoWrite == cmp.Or(c.Generation, DefaultGeneration) {
		return errors.New("app: AlsoWrite must differ from Generation")
	}
	for _, a := range []struct{ name, addr string }{{"NATSListen", c.NATSListen}, {"HTTPAddr", c.HTTPAddr}, {"MetricsAddr", c.MetricsAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("app: %s %q: %w", a.name, a.addr, err)
		}
	}
	if err := c.Session.Validate(); err != nil {
		return fmt.Errorf("app: Session: %w", err)
	}
	if err := c.Analyze.Validate(); err != nil {
		return err
	}
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	if c.Qdrant != nil {
		if err := c.Qdrant.Validate(); err != nil {
			return err
		}
	}
	d := c.withDefaults()
	return d.Worker.ValidateFor(d.Topology)
}
