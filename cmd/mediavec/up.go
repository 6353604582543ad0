package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workers < 0 {
		return fmt.Errorf("%w: --workers must be 0 or more", errUsage)
	}
	cfg := stackConfig{
		DataDir: *data, HTTPAddr: *httpAddr, NATSListen: *natsListen, Workers: *workers,
		ModelsDir: *models, ORTLib: *ortLib,
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
	fmt.Fprintf(stdout, "mediavec up: API on %s, NATS on %s, data in %s, %d workers. Ctrl-C to stop.\n", s.httpURL, s.NATSURL(), *data, *workers)
	<-ctx.Done()
	fmt.Fprintln(stdout, "mediavec up: stopping (draining jobs in flight)…")
	s.Close()
	return nil
}
