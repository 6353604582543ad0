package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"github.com/nats-io/nats.go"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// runAPI serves the HTTP API and the search page for a fleet: submissions
// and statuses through an existing NATS, queries through the same models
// as the workers against Qdrant. It runs no worker.
func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("api", "api --qdrant HOST:PORT [flags]", stderr)
	nopts := natsConnFlags(fs)
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API listen address (0.0.0.0:8080 in a container)")
	qopts := qdrantFlags(fs, "host:port of the Qdrant gRPC endpoint (required)")
	thumbsDir := fs.String("thumbs", "/var/lib/mediavec/thumbs", "shared folder of frame thumbnails, the one the workers write")
	tokenFile := fs.String("api-token-file", "", "file holding the bearer token the API requires (env MEDIAVEC_API_TOKEN sets it directly)")
	models := fs.String("models", encoders.DefaultModelsDir(), "models folder")
	ortLib := fs.String("ort-lib", encoders.DefaultORTLib(), "ONNX Runtime shared library")
	provider := fs.String("provider", "cpu", "ONNX Runtime execution provider: cpu, cuda or tensorrt (self-tested at start)")
	intraOp := fs.Int("intra-op-threads", 1, "threads one model inference may use")
	generation := fs.Int("generation", 1, "the collections' generation to ensure (the aliases decide what queries read)")
	topology := topologyFlags(fs, "replicas of every stream: the same value as the workers' (3 on a cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	qcfg, err := qopts.config()
	if err != nil {
		return err
	}
	if qcfg == nil {
		return fmt.Errorf("%w: the api needs --qdrant (mediavec up serves the embedded index)", errUsage)
	}
	scfg := encoders.SessionConfig{Provider: *provider, IntraOpThreads: *intraOp}
	if err := scfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	token, err := secret(*tokenFile, "MEDIAVEC_API_TOKEN", "api token")
	if err != nil {
		return err
	}
	if token == "" && !isLoopback(*httpAddr) {
		fmt.Fprintf(stderr, "mediavec api: warning: the API listens on %s, beyond this machine, without a token (set --api-token-file)\n", *httpAddr)
	}
	log := slog.Default().With("api", hostname())
	cfg := stackConfig{
		Generation: *generation,
		HTTPAddr:   *httpAddr, ModelsDir: *models, ORTLib: *ortLib, Session: scfg, APIToken: token, ThumbsDir: *thumbsDir,
		Qdrant:   qcfg,
		Connect:  func() (*nats.Conn, error) { return nopts.connect("mediavec api "+hostname(), log) },
		Topology: topology(),
		Decode:   decode.Config{Threads: max(1, runtime.NumCPU()/2)},
		Logger:   log,
	}
	s, err := startStack(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mediavec api: on %s, NATS %s, Qdrant %s. SIGTERM stops.\n", s.httpURL, s.NATSURLRedacted(), qcfg.Addr)
	<-ctx.Done()
	s.Close()
	return nil
}
