package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/lists"
	"github.com/mediavec/mediavec/queue"
)

// The flag groups the process commands (up, worker, api) share. Each
// default is the constant the configuration itself defaults to.

// modelOptions are the flags that choose the models and how they run.
type modelOptions struct {
	models, ortLib, provider, graphOpt, ocrLangs *string
	device, intraOp                              *int
}

func modelFlags(fs *flag.FlagSet) modelOptions {
	return modelOptions{
		models:   fs.String("models", encoders.DefaultModelsDir(), "models folder"),
		ortLib:   fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library"),
		provider: fs.String("provider", encoders.DefaultProvider, "ONNX Runtime execution provider: cpu, cuda or tensorrt (a GPU provider is self-tested at start; no silent fall-back to the CPU)"),
		device:   fs.Int("device", 0, "GPU ordinal for --provider cuda or tensorrt"),
		intraOp:  fs.Int("intra-op-threads", encoders.DefaultIntraOpThreads, "threads one model inference may use"),
		graphOpt: fs.String("graph-opt", encoders.DefaultOptimization, "ONNX graph optimisation: all, extended, basic or none"),
		ocrLangs: fs.String("ocr-langs", strings.Join(encoders.DefaultOCRLangs, "+"),
			"Tesseract models for Latin-script on-screen text, '+'-separated, the first leading: a script (Latin: every Latin-script language) or languages (eng+spa+por), each a Debian package tesseract-ocr-LANG (tesseract-ocr-script-latn for Latin)"),
	}
}

func (o modelOptions) apply(cfg *app.Config) error {
	cfg.ModelsDir, cfg.ORTLib = *o.models, *o.ortLib
	cfg.Session = encoders.SessionConfig{Provider: *o.provider, Device: *o.device, IntraOpThreads: *o.intraOp, Optimization: *o.graphOpt}
	if err := cfg.Session.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	langs := strings.FieldsFunc(*o.ocrLangs, func(r rune) bool { return r == '+' || r == ',' || r == ' ' })
	if len(langs) == 0 {
		return fmt.Errorf("%w: --ocr-langs is empty (the default is %s)", errUsage, strings.Join(encoders.DefaultOCRLangs, "+"))
	}
	cfg.OCR.Langs = langs
	return nil
}

// decodeOptions are the flags that say what sources may be read and how
// they are sampled.
type decodeOptions struct {
	roots, allowHosts, sampling *string
	allowPrivate, thorough      *bool
	threads                     *int
	maxDuration                 *time.Duration
	budget                      *float64
}

func decodeFlags(fs *flag.FlagSet) decodeOptions {
	return decodeOptions{
		roots:        fs.String("roots", "", "comma-separated folders that file sources must be under; \"any\" for no limit (default: any)"),
		allowPrivate: fs.Bool("http-allow-private", false, "let http(s) sources reach loopback and private addresses"),
		allowHosts:   fs.String("http-allow-hosts", "", "comma-separated hosts http(s) sources must be on (\".example.com\" for subdomains; default: any public host)"),
		sampling:     fs.String("sampling", decode.DefaultSampling, "frame sampling policy: fps=N, keyframes or scenes[=THRESHOLD]"),
		threads:      fs.Int("decode-threads", 0, "video decoder threads per job (default: cores ÷ jobs in flight)"),
		maxDuration:  fs.Duration("max-duration", decode.DefaultMaxDuration, "longest video accepted"),
		budget:       fs.Float64("budget", 0, "compute budget of a job that sets none, in CPU-seconds per minute of video: over it, the costly frame models see fewer frames (0: none)"),
		thorough:     fs.Bool("thorough", false, "decode every frame and run the costly frame models on every sampled frame (the defaults before frames were chosen by change; slower)"),
	}
}

func (o decodeOptions) apply(cfg *app.Config) error {
	policy, err := decode.ParsePolicy(*o.sampling)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	roots := lists.Split(*o.roots)
	if *o.roots == rootsAny {
		roots = nil
	}
	if *o.budget < 0 || math.IsNaN(*o.budget) || math.IsInf(*o.budget, 0) {
		return fmt.Errorf("%w: --budget %v is not a CPU-seconds figure of 0 or more", errUsage, *o.budget)
	}
	cfg.Analyze.Decode = decode.Config{
		Sampling: policy, Roots: roots, MaxDuration: *o.maxDuration, Threads: *o.threads,
		HTTP: decode.HTTPPolicy{AllowPrivate: *o.allowPrivate, AllowHosts: lists.Split(*o.allowHosts)},
	}
	cfg.Analyze.Thorough = *o.thorough
	cfg.Worker.Budget = *o.budget
	return nil
}

// rootsAny is the --roots value that lets file sources be anywhere.
const rootsAny = "any"

// confineRoots is `mediavec up`'s default for --roots: on a shared
// machine, a job may read only the folder up was started in and its
// uploads folder, not every file the user can (a private photo, a key),
// nor learn which paths exist. It returns what to say at start.
func (o decodeOptions) confineRoots(dataDir string) (string, error) {
	switch *o.roots {
	case rootsAny:
		return "warning: --roots any: jobs may read any file this user can", nil
	case "":
	default:
		return "file sources under " + *o.roots, nil
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working folder: %w", err)
	}
	uploads, err := filepath.Abs(filepath.Join(dataDir, "uploads"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(uploads, 0o755); err != nil {
		return "", fmt.Errorf("uploads folder: %w", err)
	}
	// Started in / or the home folder (a service manager, a container, a
	// terminal just opened), the working folder holds keys and secrets:
	// only the uploads folder then.
	home, _ := os.UserHomeDir()
	if cwd == "/" || home != "" && isWithin(home, cwd) {
		*o.roots = uploads
		return fmt.Sprintf("file sources only under %s (started in %s, which holds too much to share; --roots to choose, --roots any for no limit)", uploads, cwd), nil
	}
	*o.roots = cwd + "," + uploads
	return fmt.Sprintf("file sources only under %s and %s (--roots to choose, --roots any for no limit)", cwd, uploads), nil
}

// isWithin reports whether path is dir or lies under it.
func isWithin(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel) || rel == "."
}

// safetyOptions are the flags that say when a video is unsafe.
type safetyOptions struct {
	threshold, share *float64
}

func safetyFlags(fs *flag.FlagSet) safetyOptions {
	return safetyOptions{
		threshold: fs.Float64("unsafe-threshold", analyze.DefaultUnsafeThreshold, "P(Porn) + P(Hentai) from which a sampled frame counts as explicit"),
		share:     fs.Float64("unsafe-share", analyze.DefaultUnsafeShare, "share of a video's sampled frames that must be explicit (and at least one) for it to be unsafe"),
	}
}

func (o safetyOptions) apply(cfg *app.Config) error {
	// Zero would mean the default in analyze.Config; refuse it rather than
	// turn "everything" into 0.5.
	switch {
	case !(*o.threshold > 0 && *o.threshold <= 2):
		return fmt.Errorf("%w: --unsafe-threshold %v is not in (0, 2]", errUsage, *o.threshold)
	case !(*o.share > 0 && *o.share <= 1):
		return fmt.Errorf("%w: --unsafe-share %v is not in (0, 1] (a video is unsafe from one explicit frame with any small share)", errUsage, *o.share)
	}
	cfg.Analyze.UnsafeThreshold, cfg.Analyze.UnsafeShare = *o.threshold, *o.share
	return nil
}

// qdrantOptions are the flags that choose a Qdrant endpoint.
type qdrantOptions struct {
	addr, keyFile *string
	tls           *bool
}

func qdrantFlags(fs *flag.FlagSet, addrHelp string) qdrantOptions {
	return qdrantOptions{
		addr:    fs.String("qdrant", "", addrHelp),
		keyFile: fs.String("qdrant-api-key-file", "", "file holding the Qdrant API key (env MEDIAVEC_QDRANT_API_KEY sets it directly)"),
		tls:     fs.Bool("qdrant-tls", false, "connect to Qdrant over TLS"),
	}
}

// config is the backend configuration, or nil when --qdrant is not given.
func (o qdrantOptions) config() (*qdrant.Config, error) {
	if *o.addr == "" {
		return nil, nil
	}
	key, err := secret(*o.keyFile, "MEDIAVEC_QDRANT_API_KEY", "qdrant api key")
	if err != nil {
		return nil, err
	}
	return &qdrant.Config{Addr: *o.addr, APIKey: key, TLS: *o.tls}, nil
}

// required is config for a process that cannot run without Qdrant; why
// says so when --qdrant is missing.
func (o qdrantOptions) required(why string) (*qdrant.Config, error) {
	cfg, err := o.config()
	if err == nil && cfg == nil {
		err = fmt.Errorf("%w: %s", errUsage, why)
	}
	return cfg, err
}

// topologyFlags adds the JetStream topology flags every fleet process
// shares (each start applies them, so all processes must agree) and
// returns a function that reads them.
func topologyFlags(fs *flag.FlagSet, replicasHelp string) func() queue.Topology {
	replicas := fs.Int("replicas", queue.DefaultReplicas, replicasHelp)
	ackWait := fs.Duration("ack-wait", queue.DefaultAckWait, "how long a job may go without an ack or heartbeat before redelivery")
	maxAttempts := fs.Int("max-attempts", queue.DefaultMaxAttempts, "deliveries a job gets before it is dead-lettered as exhausted")
	dlqRetention := fs.Duration("dlq-retention", queue.DefaultDLQRetention, "how long dead letters are kept; the same on every process")
	eventRetention := fs.Duration("event-retention", queue.DefaultEventRetention, "how long events are kept for downstream consumers; the same on every process")
	statusTTL := fs.Duration("status-ttl", 0, "how long video statuses and content hashes are kept after their last update (0: for ever); the same on every process")
	jobTimeout := fs.Duration("job-timeout", queue.DefaultJobTimeout, "the longest one attempt at a job may run, decode to index write; sizes the dead-letter dedup window, so the same on every process")
	return func() queue.Topology {
		return queue.Topology{Replicas: *replicas, AckWait: *ackWait, MaxAttempts: *maxAttempts, JobTimeout: *jobTimeout,
			DLQRetention: *dlqRetention, EventRetention: *eventRetention, StatusTTL: *statusTTL}
	}
}
