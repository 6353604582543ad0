package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
)

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("up", "up [flags]", stderr)
	data := fs.String("data", ".mediavec", "folder for the JetStream store and the index")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API listen address")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "NATS listen address, for upload pipelines and other commands")
	workers := fs.Int("workers", 2, "jobs processed at once (0: serve the API and queue only)")
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	roots := fs.String("roots", "", "comma-separated folders that file sources must be under (default: any)")
	allowPrivate := fs.Bool("http-allow-private", false, "let http(s) sources reach loopback and private addresses")
	allowHosts := fs.String("http-allow-hosts", "", "comma-separated hosts http(s) sources must be on (\".example.com\" for subdomains; default: any public host)")
	sampling := fs.String("sampling", "fps=1", "frame sampling policy: fps=N, keyframes or scenes[=THRESHOLD]")
	decodeThreads := fs.Int("decode-threads", 0, "video decoder threads per job (default: cores ÷ workers)")
	maxDuration := fs.Duration("max-duration", 2*time.Hour, "longest video accepted")
	generation := fs.Int("generation", 1, "the collections' generation to write and create (segments_gN, videos_gN)")
	alsoWrite := fs.Int("also-write-generation", 0, "during a rollout, also keep this older generation up to date; 0: none")
	provider := fs.String("provider", "cpu", "ONNX Runtime execution provider: cpu, cuda or tensorrt (a GPU provider is self-tested at start; no silent fall-back to the CPU)")
	device := fs.Int("device", 0, "GPU ordinal for --provider cuda or tensorrt")
	intraOp := fs.Int("intra-op-threads", 1, "threads one model inference may use")
	graphOpt := fs.String("graph-opt", "all", "ONNX graph optimisation: all, extended, basic or none")
	thumbsDir := fs.String("thumbs", "", "folder for the JPEG thumbnails of sampled frames (default: DATA/thumbs)")
	qopts := qdrantFlags(fs, "host:port of a Qdrant gRPC endpoint to use as the index (default: the embedded index in --data)")
	tokenFile := fs.String("api-token-file", "", "file holding the bearer token the API requires (env MEDIAVEC_API_TOKEN sets it directly; default: no token)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	token, err := secret(*tokenFile, "MEDIAVEC_API_TOKEN", "api token")
	if err != nil {
		return err
	}
	var qcfg *index.QdrantConfig
	if qcfg, err = qopts.config(); err != nil {
		return err
	}
	if token == "" && !isLoopback(*httpAddr) {
		fmt.Fprintf(stderr, "mediavec up: warning: the API listens on %s, beyond this machine, without a token (set --api-token-file)\n", *httpAddr)
	}
	if *workers < 0 {
		return fmt.Errorf("%w: --workers must be 0 or more", errUsage)
	}
	if err := (encoders.SessionConfig{Provider: *provider, Optimization: *graphOpt, IntraOpThreads: *intraOp, Device: *device}).Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg := stackConfig{
		DataDir: *data, HTTPAddr: *httpAddr, NATSListen: *natsListen, Workers: *workers,
		ModelsDir: *models, ORTLib: *ortLib, APIToken: token, Qdrant: qcfg, ThumbsDir: *thumbsDir, Generation: *generation, AlsoWrite: *alsoWrite,
		Session: encoders.SessionConfig{Provider: *provider, Device: *device, IntraOpThreads: *intraOp, Optimization: *graphOpt},
	}
	if *roots != "" {
		cfg.Roots = strings.Split(*roots, ",")
	}
	policy, err := decode.ParsePolicy(*sampling)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg.Decode.Sampling = policy
	cfg.Decode.HTTP = decode.HTTPPolicy{AllowPrivate: *allowPrivate, AllowHosts: splitList(*allowHosts)}
	cfg.Decode.MaxDuration = *maxDuration
	cfg.Decode.Threads = *decodeThreads
	if cfg.Decode.Threads <= 0 {
		// Jobs run in parallel: split the cores between them rather than
		// let every decoder start one thread per core.
		cfg.Decode.Threads = max(1, runtime.NumCPU()/max(1, *workers))
	}
	s, err := startStack(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mediavec up: API on %s, NATS on %s, data in %s, %d workers. Ctrl-C to stop.\n", s.httpURL, s.NATSURLRedacted(), *data, *workers)
	<-ctx.Done()
	fmt.Fprintln(stdout, "mediavec up: stopping (draining jobs in flight)…")
	s.Close()
	return nil
}

// secret reads a secret from a file (trimmed), or from the environment
// variable env when no file is given. Secrets stay out of flags, which
// other users of the machine can read in the process list.
func secret(file, env, what string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(env)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: %s file: %v", errUsage, what, err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("%w: %s file %s is empty", errUsage, what, file)
	}
	return t, nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
