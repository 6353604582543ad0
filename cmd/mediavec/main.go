// Command mediavec turns uploaded videos into searchable multimodal vectors.
//
// This package only parses flags, environment and config, and wires the
// other packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"up", "run everything on this machine: embedded NATS, index, workers, HTTP API", runUp},
		{"api", "serve the HTTP API and search page for a fleet (existing NATS and Qdrant)", runAPI},
		{"worker", "process jobs from an existing NATS into Qdrant (a fleet's worker)", runWorker},
		{"submit", "queue videos for indexing; prints one video id per line", runSubmit},
		{"status", "print a video's state (queued, processing, indexed, failed: …)", runStatus},
		{"search", "find videos by a video, an image, words or an indexed video; near-duplicates", runSearch},
		{"backfill", "queue a folder or a JSON-lines file of videos on the backfill lane (resumable)", runBackfill},
		{"index", "list the index's collections, switch an alias to a generation, drop one", runIndex},
		{"dlq", "list dead-lettered jobs, or replay them onto their lane", runDLQ},
		{"probe", "print what decode sees in a video, as JSON", runProbe},
		{"models", "list the models, check their files and graphs, load them", runModels},
		{"health", "check a running worker's or api's health endpoint (the image's HEALTHCHECK)", runHealth},
		{"bench", "benchmarks against a baseline in the same run (decode, index, encoders, pipeline)", runBench},
	}
}

// errUsage marks an error caused by how the command was called (exit 2).
var errUsage = errors.New("usage")

func main() {
	logLevel := new(slog.LevelVar)
	if os.Getenv("MEDIAVEC_DEBUG") != "" {
		logLevel.Set(slog.LevelDebug)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one command line and returns the exit code: 0 ok, 1 failed,
// 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "mediavec %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "mediavec %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "mediavec: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mediavec — multimodal video understanding: decode, embed, index, search.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: mediavec COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'mediavec COMMAND --help' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "as MEDIAVEC_<FLAG> (upper case, '-' as '_') or in the file named by --config.")
}
