package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/lists"
	"github.com/mediavec/mediavec/worker"
)

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("up", "up [flags]", stderr)
	data := fs.String("data", app.DefaultDataDir, "folder for the JetStream store and the index")
	httpAddr := fs.String("http", app.DefaultHTTPAddr, "HTTP API listen address")
	natsListen := fs.String("nats-listen", app.DefaultNATSListen, "NATS listen address, for upload pipelines and other commands")
	workers := fs.Int("workers", worker.DefaultConcurrency, "jobs processed at once (0: serve the API and queue only)")
	mopts := modelFlags(fs)
	dopts := decodeFlags(fs)
	sopts := safetyFlags(fs)
	generation := fs.Int("generation", app.DefaultGeneration, "the collections' generation to write and create (segments_gN, videos_gN)")
	alsoWrite := fs.Int("also-write-generation", 0, "during a rollout, also keep this older generation up to date; 0: none")
	thumbsDir := fs.String("thumbs", "", "folder for the JPEG thumbnails of sampled frames (default: DATA/thumbs)")
	qopts := qdrantFlags(fs, "host:port of a Qdrant gRPC endpoint to use as the index (default: the embedded index in --data)")
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated host names the API answers to, beyond IP addresses, localhost and --http's host (\"*\": any; \".example.com\": a domain); others get 421, which stops DNS rebinding")
	tokenFile := fs.String("api-token-file", "", "file holding the bearer token the API requires (env MEDIAVEC_API_TOKEN sets it directly; default: no token)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *generation < 1 {
		return fmt.Errorf("%w: --generation counts from 1", errUsage)
	}
	token, err := secret(*tokenFile, "MEDIAVEC_API_TOKEN", "api token")
	if err != nil {
		return err
	}
	qcfg, err := qopts.config()
	if err != nil {
		return err
	}
	if token == "" && !isLoopback(*httpAddr) {
		fmt.Fprintf(stderr, "mediavec up: warning: the API listens on %s, beyond this machine, without a token (set --api-token-file)\n", *httpAddr)
	}
	if !isLoopback(*natsListen) {
		fmt.Fprintf(stderr, "mediavec up: warning: NATS listens on %s, beyond this machine; clients need the token in %s, and it travels without TLS (a fleet's NATS has TLS, see docs/fleet.md)\n", *natsListen, filepath.Join(*data, "nats.token"))
	}
	if *workers < 0 {
		return fmt.Errorf("%w: --workers must be 0 or more", errUsage)
	}
	sources, err := dopts.confineRoots(*data)
	if err != nil {
		return err
	}
	cfg := app.Config{
		DataDir: *data, HTTPAddr: *httpAddr, NATSListen: *natsListen, Workers: *workers,
		APIToken: token, AllowedHosts: lists.Split(*allowedHosts), PublishNATSToken: true, Qdrant: qcfg, ThumbsDir: *thumbsDir, Generation: *generation, AlsoWrite: *alsoWrite,
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
	fmt.Fprintf(stdout, "mediavec up: API on %s, NATS on %s, data in %s, %d workers. Ctrl-C to stop.\n", s.HTTPURL(), s.NATSURLRedacted(), *data, *workers)
	if *dopts.roots == rootsAny {
		fmt.Fprintf(stderr, "mediavec up: %s\n", sources)
	} else {
		fmt.Fprintf(stdout, "mediavec up: %s\n", sources)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "mediavec up: stopping (draining jobs in flight)…")
	s.Close()
	return nil
}

// start starts a stack; a configuration the assembly point refuses is a
// usage error (exit 2), named by the field it found wrong.
func start(ctx context.Context, cfg app.Config) (*app.Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	s, err := app.Start(ctx, cfg)
	if errors.Is(err, app.ErrConfig) {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return s, err
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
