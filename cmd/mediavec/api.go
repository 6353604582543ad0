package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"github.com/nats-io/nats.go"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/lists"
)

// runAPI serves the HTTP API and the search page for a fleet: submissions
// and statuses through an existing NATS, queries through the same models
// as the workers against Qdrant. It runs no worker.
func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("api", "api --qdrant HOST:PORT [flags]", stderr)
	nopts := natsConnFlags(fs)
	httpAddr := fs.String("http", app.DefaultHTTPAddr, "HTTP API listen address (0.0.0.0:8080 in a container)")
	qopts := qdrantFlags(fs, "host:port of the Qdrant gRPC endpoint (required)")
	thumbsDir := fs.String("thumbs", "/var/lib/mediavec/thumbs", "shared folder of frame thumbnails, the one the workers write")
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated host names the API answers to, beyond IP addresses, localhost and --http's host (\"*\": any; \".example.com\": a domain); others get 421, which stops DNS rebinding")
	tokenFile := fs.String("api-token-file", "", "file holding the bearer token the API requires (env MEDIAVEC_API_TOKEN sets it directly)")
	mopts := modelFlags(fs)
	generation := fs.Int("generation", app.DefaultGeneration, "the collections' generation to ensure (the aliases decide what queries read)")
	topology := topologyFlags(fs, "replicas of every stream: the same value as the workers' (3 on a cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *generation < 1 {
		return fmt.Errorf("%w: --generation counts from 1", errUsage)
	}
	qcfg, err := qopts.required("the api needs --qdrant (mediavec up serves the embedded index)")
	if err != nil {
		return err
	}
	token, err := secret(*tokenFile, "MEDIAVEC_API_TOKEN", "api token")
	if err != nil {
		return err
	}
	if token == "" && !isLoopback(*httpAddr) {
		fmt.Fprintf(stderr, "mediavec api: warning: the API listens on %s, beyond this machine, without a token (set --api-token-file)\n", *httpAddr)
	}
	log := slog.Default().With("api", hostname())
	cfg := app.Config{
		Generation: *generation, HTTPAddr: *httpAddr, APIToken: token, AllowedHosts: lists.Split(*allowedHosts), ThumbsDir: *thumbsDir,
		Qdrant: qcfg, Topology: topology(), Logger: log,
		// Queries alone: room for two decoding at once.
		Analyze: analyze.Config{Decode: decode.Config{Threads: max(1, runtime.NumCPU()/2)}},
		Connect: func() (*nats.Conn, error) { return nopts.connect("mediavec api "+hostname(), log) },
	}
	if err := mopts.apply(&cfg); err != nil {
		return err
	}
	s, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mediavec api: on %s, NATS %s, Qdrant %s. SIGTERM stops.\n", s.HTTPURL(), s.NATSURLRedacted(), qcfg.Addr)
	<-ctx.Done()
	s.Close()
	return nil
}
