package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
)

// Store is where the worker writes points: the embedded index in `up`, the
// Qdrant backend in a fleet.
type Store interface {
	// ReplaceVideo atomically replaces all points of a video in a
	// collection; it returns once they are durable.
	ReplaceVideo(ctx context.Context, collection, videoID string, points []index.Point) error
}

// Target is one generation of the two collections and what it holds.
type Target struct {
	Segments, Videos string
	// Schema restricts the vectors written to those it names; the zero
	// Schema writes every vector.
	Schema index.Schema
}

// GenerationTarget is the target of generation n of both collections.
func GenerationTarget(n int, schema index.Schema) Target {
	return Target{Segments: index.Generation(index.Segments, n), Videos: index.Generation(index.Videos, n), Schema: schema}
}

// Config sets the pool. The zero value is usable.
type Config struct {
	// Concurrency is how many jobs run at once. Defaults to 2.
	Concurrency int
	// Heartbeat is how often a running job tells JetStream it is still in
	// progress. Defaults to 10s; keep it well under the consumer's AckWait.
	Heartbeat time.Duration
	// FetchWait is how long an idle worker waits for an upload before it
	// looks at the backfill lane again. Defaults to 1s.
	FetchWait time.Duration
	// DrainTimeout is how long jobs in flight may run on after Run's
	// context is cancelled before they are cancelled and released for
	// redelivery. Defaults to 30s.
	DrainTimeout time.Duration
	// RetryBase is the first retry delay of a transient failure; it doubles
	// with each delivery. Defaults to 2s.
	RetryBase time.Duration
	// JobTimeout bounds one attempt at a job, decode to index write; a
	// decode that runs past it fails the job as over its limit. Defaults
	// to 15m.
	JobTimeout time.Duration
	// Thumbs, when set, receives a JPEG of every sampled frame.
	Thumbs *thumbs.Store
	// Metrics, when set, records jobs, stages and lanes.
	Metrics *Metrics
	// Targets are the collection pairs every job is written to, in order;
	// defaults to the aliases "segments" and "videos". During a model
	// rollout a worker writes its own generation and also the previous one
	// (dual write), each getting the vectors its schema holds.
	Targets []Target
	// Generation is the generation the first target belongs to, recorded
	// in each indexed video's status (resumable rollout backfills).
	Generation int
	// Contents, when set, turns on exact-duplicate detection: a job whose
	// source has the content hash of a video already indexed with the same
	// spaces is recorded as a duplicate of it instead of embedded again
	// (unless the job says reprocess).
	Contents *queue.Contents
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.FetchWait <= 0 {
		c.FetchWait = time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 2 * time.Second
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 15 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.Targets) == 0 {
		c.Targets = []Target{{Segments: index.Segments, Videos: index.Videos}}
	}
	return c
}

// Worker processes jobs from the lanes until its context ends.
type Worker struct {
	cfg      Config
	js       jetstream.JetStream
	lanes    queue.Lanes
	statuses *queue.Statuses
	analyzer *analyze.Analyzer
	store    Store
	log      *slog.Logger
}

// New returns a Worker. Nothing runs until Run.
func New(cfg Config, js jetstream.JetStream, lanes queue.Lanes, statuses *queue.Statuses, a *analyze.Analyzer, store Store) *Worker {
	cfg = cfg.withDefaults()
	return &Worker{cfg: cfg, js: js, lanes: lanes, statuses: statuses, analyzer: a, store: store, log: cfg.Logger}
}

// Run fetches and processes jobs with Concurrency goroutines. When ctx is
// cancelled it stops fetching, lets jobs in flight finish for up to
// DrainTimeout, then cancels them (they are released for redelivery), and
// returns.
func (w *Worker) Run(ctx context.Context) error {
	// Jobs run on a context that outlives ctx by the drain deadline.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.cfg.DrainTimeout, cancelJobs)
		context.AfterFunc(jobCtx, func() { t.Stop() })
	})
	defer stop()

	var wg sync.WaitGroup
	wg.Go(func() {
		w.cfg.Metrics.watchLanes(ctx, map[string]jetstream.Consumer{"upload": w.lanes.Upload, "backfill": w.lanes.Backfill}, 5*time.Second)
	})
	for range w.cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				msg, err := w.next(ctx)
				if err != nil {
					if ctx.Err() == nil {
						w.log.Warn("worker: fetch failed", "err", err)
						sleep(ctx, w.cfg.FetchWait)
					}
					continue
				}
				if msg != nil {
					w.Process(jobCtx, msg)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// next returns one job: an upload if there is one, else a backfill job, else
// waits up to FetchWait for an upload. It returns nil, nil when idle.
func (w *Worker) next(ctx context.Context) (jetstream.Msg, error) {
	for _, c := range []jetstream.Consumer{w.lanes.Upload, w.lanes.Backfill} {
		if c == nil {
			continue
		}
		batch, err := c.FetchNoWait(1)
		if err != nil {
			return nil, err
		}
		if m := first(batch); m != nil {
			return m, nil
		}
	}
	if w.lanes.Upload == nil {
		sleep(ctx, w.cfg.FetchWait)
		return nil, nil
	}
	batch, err := w.lanes.Upload.Fetch(1, jetstream.FetchMaxWait(w.cfg.FetchWait))
	if err != nil {
		return nil, err
	}
	return first(batch), nil
}

func first(b jetstream.MessageBatch) jetstream.Msg {
	var got jetstream.Msg
	for m := range b.Messages() {
		if got == nil {
			got = m
		}
	}
	return got
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// outcome is how a job ended.
type outcome struct {
	cause     string // DLQ cause for permanent failures; "" otherwise
	err       error
	transient bool
}

// Process runs one job message to its end and settles it (ack, nak or
// term + dead letter). It never panics.
func (w *Worker) Process(ctx context.Context, msg jetstream.Msg) {
	attempts := 1
	if meta, err := msg.Metadata(); err == nil {
		attempts = int(meta.NumDelivered)
	}
	job, err := queue.ParseJob(msg.Data())
	if err != nil {
		w.settle(ctx, msg, job, attempts, outcome{cause: queue.CauseInvalid, err: err}, nil)
		return
	}
	log := w.log.With("video_id", job.VideoID, "job_id", job.JobID, "attempt", attempts)
	if attempts > w.lanes.MaxAttempts {
		// Earlier attempts ended without settling the job (a crash, a
		// drain on the last attempt): give it up rather than risk a loop.
		w.deadLetter(ctx, msg, job, attempts, queue.CauseExhausted,
			fmt.Errorf("delivered %d times, more than the %d attempts allowed, without finishing", attempts, w.lanes.MaxAttempts), log)
		return
	}
	log.Info("job started", "source", job.Source)
	w.cfg.Metrics.running(1)
	defer w.cfg.Metrics.running(-1)

	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	go w.heartbeat(hbCtx, msg)
	runCtx, cancel := context.WithTimeout(ctx, w.cfg.JobTimeout)
	res, out := w.run(runCtx, job, attempts)
	cancel()
	stopHeartbeat()
	w.settle(ctx, msg, job, attempts, out, res)
}

func (w *Worker) heartbeat(ctx context.Context, msg jetstream.Msg) {
	t := time.NewTicker(w.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := msg.InProgress(); err != nil {
				w.log.Warn("worker: heartbeat failed", "err", err)
			}
		}
	}
}

// run is the pipeline: decode and encode, then write. A panic anywhere is
// recovered into a permanent failure with the cause of the stage it hit.
func (w *Worker) run(ctx context.Context, job queue.Job, attempts int) (res *analyze.Result, out outcome) {
	stage := queue.CauseDecode
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("worker: job panicked", "video_id", job.VideoID, "panic", r, "stack", string(debug.Stack()))
			res, out = nil, outcome{cause: stage, err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if err := w.statuses.Put(ctx, queue.Status{VideoID: job.VideoID, State: queue.StateProcessing, JobID: job.JobID, Source: job.Source, Attempts: attempts}); err != nil {
		return nil, outcome{err: err, transient: true, cause: queue.CauseExhausted}
	}
	title := ""
	if job.Text != nil {
		title = job.Text.Title
	}
	opts := analyze.Options{Spaces: job.Spaces, Title: title, Thumbnails: w.cfg.Thumbs != nil}
	spaces := w.jobSpaces(job)
	if w.cfg.Contents != nil {
		opts.Duplicate = func(ctx context.Context, sum string) (string, error) {
			if job.Reprocess {
				return "", nil
			}
			return w.duplicateOf(ctx, job.VideoID, contentKey(sum, spaces))
		}
	}
	res, err := w.analyzer.Source(ctx, job.Source, opts)
	if err != nil {
		var me *encoders.Error
		var de *decode.Error
		switch {
		case errors.As(err, &de) && de.Kind == decode.KindForbidden:
			// The job names a source it may not read: the job is bad.
			return nil, outcome{cause: queue.CauseInvalid, err: err}
		case decode.Permanent(err):
			return nil, outcome{cause: queue.CauseDecode, err: err}
		case errors.As(err, &me):
			return nil, outcome{cause: queue.CauseModel, err: err}
		default:
			return nil, outcome{cause: queue.CauseDecode, err: err, transient: true}
		}
	}
	stage = queue.CauseIndex
	t0 := time.Now()
	if res.DuplicateOf != "" {
		// An exact re-upload: it has no points of its own (and loses any
		// it had from an earlier, different upload under this id).
		for _, t := range w.cfg.Targets {
			for _, coll := range []string{t.Segments, t.Videos} {
				if err := w.store.ReplaceVideo(ctx, coll, job.VideoID, nil); err != nil {
					return nil, outcome{cause: queue.CauseIndex, err: err, transient: true}
				}
			}
		}
		return res, outcome{}
	}
	if w.cfg.Thumbs != nil {
		// Before the points, so a search never shows a moment whose
		// thumbnail is missing.
		if err := w.cfg.Thumbs.Replace(job.VideoID, res.Thumbs); err != nil {
			return nil, outcome{cause: queue.CauseIndex, err: err, transient: true}
		}
	}
	segs, video := Points(job, res, time.Now().UTC())
	for _, t := range w.cfg.Targets {
		if err := w.store.ReplaceVideo(ctx, t.Segments, job.VideoID, restrict(segs, t.Schema)); err != nil {
			return nil, outcome{cause: queue.CauseIndex, err: err, transient: true}
		}
		// No video point when there is nothing to pool (no segment in any
		// space the target holds).
		if err := w.store.ReplaceVideo(ctx, t.Videos, job.VideoID, restrict([]index.Point{video}, t.Schema)); err != nil {
			return nil, outcome{cause: queue.CauseIndex, err: err, transient: true}
		}
	}
	res.Timings["index"] = time.Since(t0)
	if w.cfg.Contents != nil && res.ContentSHA256 != "" {
		// Only now that the points are written can a later upload of the
		// same bytes point here.
		if err := w.cfg.Contents.Put(ctx, contentKey(res.ContentSHA256, spaces), job.VideoID); err != nil {
			w.log.Warn("content hash not recorded; a re-upload of it will be embedded again", "video_id", job.VideoID, "err", err)
		}
	}
	return res, outcome{}
}

// jobSpaces are the spaces a job is embedded in.
func (w *Worker) jobSpaces(job queue.Job) []string {
	if len(job.Spaces) > 0 {
		return job.Spaces
	}
	return w.analyzer.Loaded()
}

// duplicateOf returns the indexed video recorded under key, other than
// videoID itself, or "".
func (w *Worker) duplicateOf(ctx context.Context, videoID, key string) (string, error) {
	other, ok, err := w.cfg.Contents.Get(ctx, key)
	if err != nil || !ok || other == videoID {
		return "", err
	}
	st, err := w.statuses.Get(ctx, other)
	if errors.Is(err, queue.ErrUnknownVideo) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if st.State != queue.StateIndexed || st.ContentKey != key {
		// Deleted, failed, being re-processed, or re-indexed since from
		// other bytes: the entry is stale; embed this one.
		return "", nil
	}
	return other, nil
}

// contentKey is the content bucket's key of a hash and a set of spaces:
// the same bytes embedded in other spaces are not a duplicate.
func contentKey(sum string, spaces []string) string {
	sorted := slices.Clone(spaces)
	slices.Sort(sorted)
	h := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	return sum + "_" + hex.EncodeToString(h[:6])
}

// settle maps an outcome to the message's ack, the video's status, a dead
// letter and an event. Every decision about acks is here.
func (w *Worker) settle(ctx context.Context, msg jetstream.Msg, job queue.Job, attempts int, out outcome, res *analyze.Result) {
	log := w.log.With("video_id", job.VideoID, "job_id", job.JobID, "attempt", attempts)
	if out.err == nil && res.DuplicateOf != "" {
		st := queue.Status{VideoID: job.VideoID, State: queue.StateDuplicate, JobID: job.JobID, Source: job.Source,
			Attempts: attempts, Duration: res.Info.Duration.Seconds(), DuplicateOf: res.DuplicateOf, Generation: w.cfg.Generation}
		if err := w.statuses.Put(ctx, st); err != nil {
			log.Warn("duplicate found but status not saved; releasing for redelivery", "err", err)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		if err := queue.PublishEvent(ctx, w.js, queue.Event{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateDuplicate, DuplicateOf: res.DuplicateOf}); err != nil {
			log.Warn("duplicate event not published", "err", err)
		}
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("ack failed; the job may be redelivered", "err", err)
		}
		w.cfg.Metrics.settled("duplicate", "")
		log.Info("job is an exact duplicate", "duplicate_of", res.DuplicateOf)
		return
	}
	if out.err == nil {
		counts, labels := res.Count(), labelSummary(res)
		st := queue.Status{VideoID: job.VideoID, State: queue.StateIndexed, JobID: job.JobID, Source: job.Source,
			Attempts: attempts, Duration: res.Info.Duration.Seconds(), Spaces: counts, Labels: labels, Generation: w.cfg.Generation}
		if res.ContentSHA256 != "" {
			st.ContentKey = contentKey(res.ContentSHA256, w.jobSpaces(job))
		}
		if err := w.statuses.Put(ctx, st); err != nil {
			// The points are written; a redelivery rewrites the same points.
			log.Warn("job indexed but status not saved; releasing for redelivery", "err", err)
			_ = msg.NakWithDelay(w.cfg.RetryBase)
			return
		}
		stages := map[string]float64{}
		for k, v := range res.Timings {
			stages[k] = float64(v.Microseconds()) / 1000
		}
		if err := queue.PublishEvent(ctx, w.js, queue.Event{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateIndexed, Spaces: counts, Stages: stages, Labels: labels}); err != nil {
			log.Warn("indexed event not published", "err", err)
		}
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("ack failed; the job may be redelivered and will rewrite the same points", "err", err)
		}
		w.cfg.Metrics.settled("indexed", "")
		w.cfg.Metrics.indexed(res)
		log.Info("job indexed", "segments", counts, "stages_ms", stages)
		return
	}

	if out.transient && ctx.Err() != nil {
		// Draining: let another worker (or this one after restart) take it.
		log.Info("job released during shutdown", "err", out.err)
		_ = msg.Nak()
		w.cfg.Metrics.settled("released", "")
		return
	}
	if out.transient && attempts < w.lanes.MaxAttempts {
		delay := w.cfg.RetryBase << min(attempts-1, 8)
		log.Warn("job failed, will retry", "err", out.err, "retry_in", delay)
		_ = msg.NakWithDelay(delay)
		w.cfg.Metrics.settled("retried", out.cause)
		return
	}
	cause := out.cause
	if out.transient {
		cause = queue.CauseExhausted
	}
	w.deadLetter(ctx, msg, job, attempts, cause, out.err, log)
}

func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, job queue.Job, attempts int, cause string, jobErr error, log *slog.Logger) {
	dl := queue.DeadLetter{Cause: cause, Error: jobErr.Error(), Attempts: attempts, Subject: msg.Subject(), Job: msg.Data()}
	// One entry per job message, however often it is dead-lettered.
	dedup := ""
	if meta, err := msg.Metadata(); err == nil {
		dedup = fmt.Sprintf("dlq-%s-%d", meta.Stream, meta.Sequence.Stream)
	}
	if err := queue.PublishDeadLetter(ctx, w.js, dl, dedup); err != nil {
		// Never drop a job: if the dead letter cannot be written, leave
		// the job on its lane to be tried again.
		log.Error("dead letter not written; job left for redelivery", "err", err, "job_err", jobErr)
		_ = msg.NakWithDelay(w.cfg.RetryBase)
		return
	}
	if job.VideoID != "" {
		st := queue.Status{VideoID: job.VideoID, State: queue.StateFailed, JobID: job.JobID, Source: job.Source,
			Cause: cause, Error: jobErr.Error(), Attempts: attempts}
		if err := w.statuses.Put(ctx, st); err != nil {
			log.Warn("failed status not saved", "err", err)
		}
		if err := queue.PublishEvent(ctx, w.js, queue.Event{VideoID: job.VideoID, JobID: job.JobID, State: queue.StateFailed, Cause: cause, Error: jobErr.Error()}); err != nil {
			log.Warn("failed event not published", "err", err)
		}
	}
	if err := msg.Term(); err != nil {
		log.Warn("term failed", "err", err)
	}
	w.cfg.Metrics.settled("failed", cause)
	log.Warn("job failed", "cause", cause, "err", jobErr)
}
