package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/worker"
)

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", "worker --qdrant HOST:PORT [flags]", stderr)
	nopts := natsConnFlags(fs)
	concurrency := fs.Int("concurrency", worker.DefaultConcurrency, "jobs in flight")
	qopts := qdrantFlags(fs, "host:port of the Qdrant gRPC endpoint every worker writes to (required)")
	thumbsDir := fs.String("thumbs", "", "shared folder for frame thumbnails (default: none are kept)")
	mopts := modelFlags(fs)
	dopts := decodeFlags(fs)
	sopts := safetyFlags(fs)
	topology := topologyFlags(fs, "replicas of every stream (3 on a cluster)")
	drain := fs.Duration("drain-timeout", worker.DefaultDrainTimeout, "on SIGTERM, how long jobs in flight may finish before they are released")
	generation := fs.Int("generation", app.DefaultGeneration, "the collections' generation this worker writes (segments_gN, videos_gN); a new model set is a new generation")
	alsoWrite := fs.Int("also-write-generation", 0, "during a rollout, also keep this older generation up to date (dual write); 0: none")
	metricsAddr := fs.String("metrics", app.DefaultMetricsAddr, "address of /metrics, /healthz and /readyz (\"\": none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *generation < 1 {
		return fmt.Errorf("%w: --generation counts from 1", errUsage)
	}
	qcfg, err := qopts.required("a worker needs --qdrant: workers on several machines share one index (mediavec up runs the embedded one)")
	if err != nil {
		return err
	}
	if *concurrency < 1 {
		return fmt.Errorf("%w: --concurrency must be at least 1", errUsage)
	}
	log := slog.Default().With("worker", hostname())
	cfg := app.Config{
		Workers: *concurrency, Worker: worker.Config{DrainTimeout: *drain}, Topology: topology(),
		Qdrant: qcfg, ThumbsDir: *thumbsDir, NoThumbs: *thumbsDir == "",
		Generation: *generation, AlsoWrite: *alsoWrite, MetricsAddr: *metricsAddr, Logger: log,
		Connect: func() (*nats.Conn, error) { return nopts.connect("mediavec worker "+hostname(), log) },
	}
	if err := mopts.apply(&cfg); err != nil {
		return err
	}
	if err := dopts.apply(&cfg); err != nil {
		return err
	}
	if err := sopts.apply(&cfg); err != nil {
		return err
	}
	s, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	if u := s.MetricsURL(); u != "" {
		fmt.Fprintf(stdout, "mediavec worker: metrics on %s/metrics\n", u)
	}
	fmt.Fprintf(stdout, "mediavec worker: %d jobs at a time from %s into Qdrant at %s. SIGTERM drains.\n", *concurrency, s.NATSURLRedacted(), qcfg.Addr)
	<-ctx.Done()
	s.Close()
	fmt.Fprintln(stdout, "mediavec worker: stopped")
	return nil
}
