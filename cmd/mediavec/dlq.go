package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mediavec/mediavec/queue"
)

func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, "Usage: mediavec dlq list|replay [flags]\n\n  list     the dead letters: sequence, time, cause, video, attempts, error\n  replay   put dead-lettered jobs back on their lane (SEQ... or --all), then remove their dead letters")
			return nil
		}
		return fmt.Errorf("%w: want dlq list or dlq replay", errUsage)
	}
	switch args[0] {
	case "list":
		return runDLQList(ctx, args[1:], stdout, stderr)
	case "replay":
		return runDLQReplay(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown dlq command %q (have: list, replay)", errUsage, args[0])
}

func runDLQList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq list", "dlq list [flags]", stderr)
	nopts := natsConnFlags(fs)
	cause := fs.String("cause", "", "only this cause: invalid, decode, model, index or exhausted")
	limit := fs.Int("limit", 0, "at most this many (0: all)")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	nc, js, err := connectJetStream(ctx, nopts, "mediavec dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	entries, err := queue.ListDeadLetters(ctx, js, *cause, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(entries) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tFAILED AT\tCAUSE\tVIDEO\tATTEMPTS\tERROR")
	for _, e := range entries {
		video := "-"
		if job, err := queue.ParseJob(e.Job); err == nil {
			video = job.VideoID
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", e.Seq, e.FailedAt.Format("2006-01-02 15:04:05"), e.Cause, video, e.Attempts, e.Error)
	}
	return tw.Flush()
}

func runDLQReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq replay", "dlq replay (SEQ... | --all) [flags]", stderr)
	nopts := natsConnFlags(fs)
	all := fs.Bool("all", false, "replay every dead letter (of --cause, when given)")
	cause := fs.String("cause", "", "with --all: only this cause")
	force := fs.Bool("force", false, "replay even a job whose video has had a newer job since")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *all == (fs.NArg() > 0) {
		return fmt.Errorf("%w: give dead letter sequence numbers or --all", errUsage)
	}
	var seqs []uint64
	for _, a := range fs.Args() {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %q is not a sequence number (see dlq list)", errUsage, a)
		}
		seqs = append(seqs, n)
	}
	nc, js, err := connectJetStream(ctx, nopts, "mediavec dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	statuses, err := queue.OpenStatuses(ctx, js)
	if err != nil {
		return err
	}
	if *all {
		entries, err := queue.ListDeadLetters(ctx, js, *cause, 0)
		if err != nil {
			return err
		}
		for _, e := range entries {
			seqs = append(seqs, e.Seq)
		}
	}
	failed := 0
	for _, seq := range seqs {
		job, err := queue.ReplayDeadLetter(ctx, js, statuses, seq, *force)
		if err != nil {
			fmt.Fprintf(stderr, "dead letter %d: %v\n", seq, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%d\t%s\t%s\n", seq, job.VideoID, job.JobID)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d dead letters not replayed", failed, len(seqs))
	}
	return nil
}
