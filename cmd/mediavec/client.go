package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/queue"
)

// The addresses a running `mediavec up` listens on by default.
const (
	defaultNATS = "nats://" + app.DefaultNATSListen
	defaultAPI  = "http://" + app.DefaultHTTPAddr
)

func natsFlag(fs *flag.FlagSet) *string {
	return fs.String("nats", defaultNATS, "NATS URL of a running mediavec up or fleet")
}

func apiFlag(fs *flag.FlagSet) *string {
	return fs.String("api", defaultAPI, "URL of a running mediavec up or api")
}

// connectJetStream connects a command line tool: one try with a timeout,
// with the same credentials, nkey and TLS options as a worker.
func connectJetStream(ctx context.Context, o natsOptions, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := o.dial(name, nats.Timeout(5*time.Second))
	switch {
	case errors.Is(err, nats.ErrAuthorization):
		return nil, nil, fmt.Errorf("%w (the server wants credentials: a `mediavec up` of this user leaves its token for the CLI; otherwise give --nats-token-file or --nats-creds)", err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w (is `mediavec up` or a fleet's NATS running there?)", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("submit", "submit [flags] PATH|URL…", stderr)
	nopts := natsConnFlags(fs)
	id := fs.String("id", "", "video id (only with one source; default: the file name without its extension)")
	title := fs.String("title", "", "video title")
	backfill := fs.Bool("backfill", false, "queue on the backfill lane instead of the upload lane")
	reprocess := fs.Bool("reprocess", false, "re-embed even if the video is already indexed")
	wait := fs.Duration("wait", 0, "wait up to this long for each video to be indexed or fail, and exit 1 if any failed")
	budget := fs.Float64("budget", 0, "compute budget in CPU-seconds per minute of video: over it, the costly frame models see fewer frames, and the status says what was skipped (0: the worker's)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *budget < 0 || math.IsNaN(*budget) || math.IsInf(*budget, 0) {
		return fmt.Errorf("%w: --budget %v is not a CPU-seconds figure of 0 or more", errUsage, *budget)
	}
	srcs := fs.Args()
	if len(srcs) == 0 {
		return fmt.Errorf("%w: no PATH or URL given", errUsage)
	}
	if *id != "" && len(srcs) > 1 {
		return fmt.Errorf("%w: --id needs exactly one source", errUsage)
	}
	nc, js, err := connectJetStream(ctx, nopts, "mediavec submit")
	if err != nil {
		return err
	}
	defer nc.Close()
	statuses, err := queue.OpenStatuses(ctx, js)
	if err != nil {
		return fmt.Errorf("%w (is `mediavec up` running at %s?)", err, redactURL(*nopts.url))
	}
	var ids []string
	for _, src := range srcs {
		job, err := jobFor(src, *id)
		if err != nil {
			return err
		}
		if *title != "" {
			job.Text = &queue.JobText{Title: *title}
		}
		job.Reprocess = *reprocess
		job.Budget = *budget
		if _, err := queue.Submit(ctx, js, statuses, job, *backfill); err != nil {
			return err
		}
		fmt.Fprintln(stdout, job.VideoID)
		ids = append(ids, job.VideoID)
	}
	if *wait <= 0 {
		return nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	failed := 0
	for _, v := range ids {
		st, err := waitForFinal(waitCtx, statuses, v)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", v, err)
		}
		fmt.Fprintf(stderr, "%s: %s\n", v, st.Line())
		if st.State == queue.StateFailed {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d videos failed", failed, len(ids))
	}
	return nil
}

// jobFor builds the job of one source: a local file (made absolute, and
// checked to exist, since the worker reads it by path) or a URL.
func jobFor(src, id string) (queue.Job, error) {
	var job queue.Job
	if strings.Contains(src, "://") {
		job.Source = src
		if id == "" {
			id = strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
		}
	} else {
		abs, err := filepath.Abs(src)
		if err != nil {
			return job, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return job, fmt.Errorf("%w: %v", errUsage, err)
		}
		if st.IsDir() {
			return job, fmt.Errorf("%w: %s is a folder", errUsage, src)
		}
		job.Source = queue.FileURL(abs)
		if id == "" {
			id = strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
		}
	}
	job.VideoID = id
	return job, nil
}

// waitForFinal polls a video's status until it is indexed, duplicate or
// failed.
func waitForFinal(ctx context.Context, statuses *queue.Statuses, videoID string) (queue.Status, error) {
	for {
		st, err := statuses.Get(ctx, videoID)
		if err != nil && !errors.Is(err, queue.ErrUnknownVideo) {
			return st, err
		}
		switch st.State {
		case queue.StateIndexed, queue.StateDuplicate, queue.StateFailed:
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("still %s: %w", st.State, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "status [flags] VIDEO_ID", stderr)
	api := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print the whole status as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want exactly one VIDEO_ID", errUsage)
	}
	var st queue.Status
	if err := apiGet(ctx, *api, "/v1/videos/"+url.PathEscape(fs.Arg(0)), &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintln(stdout, st.Line())
	fmt.Fprintf(stdout, "video_id: %s\nsource:   %s\njob_id:   %s\nupdated:  %s\n", st.VideoID, st.Source, st.JobID, st.UpdatedAt.Format(time.RFC3339))
	if st.Attempts > 0 {
		fmt.Fprintf(stdout, "attempts: %d\n", st.Attempts)
	}
	if st.Duration > 0 {
		fmt.Fprintf(stdout, "duration: %.1fs\n", st.Duration)
	}
	for _, space := range sortedKeys(st.Spaces) {
		fmt.Fprintf(stdout, "segments: %s=%d\n", space, st.Spaces[space])
	}
	if len(st.Labels) > 0 {
		labels := sortedKeys(st.Labels)
		slices.SortStableFunc(labels, func(a, b string) int { return st.Labels[b] - st.Labels[a] })
		parts := make([]string, len(labels))
		for i, l := range labels {
			parts[i] = fmt.Sprintf("%s (%d frames)", l, st.Labels[l])
		}
		fmt.Fprintf(stdout, "objects:  %s\n", strings.Join(parts, ", "))
	}
	if st.Budget != nil {
		fmt.Fprintf(stdout, "budget:   %s\n", st.Budget.Line())
	}
	return nil
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	Code int
	Msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Code) }

func apiGet(ctx context.Context, base, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return err
	}
	return apiDo(req, out)
}

func apiDo(req *http.Request, out any) error {
	if t := strings.TrimSpace(os.Getenv("MEDIAVEC_API_TOKEN")); t != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("call the API at %s (is `mediavec up` running?): %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return &apiError{Code: resp.StatusCode, Msg: e.Error}
	}
	return json.Unmarshal(body, out)
}
