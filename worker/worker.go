package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
)

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

// Config sets the pool. The zero value is usable: each zero field takes
// the default named beside it.
type Config struct {
	// Concurrency is how many jobs run at once. Defaults to
	// DefaultConcurrency.
	Concurrency int
	// Heartbeat is how often a running job tells JetStream it is still in
	// progress. Defaults to DefaultHeartbeat; it must be shorter than the
	// consumer's AckWait (HeartbeatFor gives a third of it).
	Heartbeat time.Duration
	// FetchWait is how long an idle worker waits for an upload before it
	// looks at the backfill lane again. Defaults to DefaultFetchWait.
	FetchWait time.Duration
	// DrainTimeout is how long jobs in flight may run on after Run's
	// context is cancelled before they are cancelled and released for
	// redelivery. Defaults to DefaultDrainTimeout.
	DrainTimeout time.Duration
	// RetryBase is the first retry delay of a transient failure; it doubles
	// with each delivery. Defaults to DefaultRetryBase.
	RetryBase time.Duration
	// JobTimeout bounds one attempt at a job, decode to index write; a
	// decode that runs past it fails the job as over its limit. Defaults
	// to DefaultJobTimeout; the topology's dead-letter window must cover
	// it (queue.Topology.JobTimeout).
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
	// Budget is the compute budget of a job that sets none, in
	// CPU-seconds per minute of video (queue.Job.Budget); 0: none.
	Budget float64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// The defaults of Config.
const (
	DefaultConcurrency  = 2
	DefaultHeartbeat    = 10 * time.Second
	DefaultFetchWait    = time.Second
	DefaultDrainTimeout = 30 * time.Second
	DefaultRetryBase    = 2 * time.Second
	DefaultJobTimeout   = 15 * time.Minute
)

// HeartbeatFor is the heartbeat for a consumer's AckWait: a third of it,
// so two heartbeats can be lost before a job is redelivered.
func HeartbeatFor(ackWait time.Duration) time.Duration { return ackWait / 3 }

func (c Config) withDefaults() Config {
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultHeartbeat)
	c.FetchWait = cmp.Or(c.FetchWait, DefaultFetchWait)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, DefaultDrainTimeout)
	c.RetryBase = cmp.Or(c.RetryBase, DefaultRetryBase)
	c.JobTimeout = cmp.Or(c.JobTimeout, DefaultJobTimeout)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if len(c.Targets) == 0 {
		c.Targets = []Target{{Segments: index.Segments, Videos: index.Videos}}
	}
	return c
}

// Validate checks the configuration, naming the first bad field.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Heartbeat", c.Heartbeat}, {"FetchWait", c.FetchWait}, {"DrainTimeout", c.DrainTimeout}, {"RetryBase", c.RetryBase}, {"JobTimeout", c.JobTimeout}} {
		if f.d < 0 {
			return fmt.Errorf("worker: %s %s is negative", f.name, f.d)
		}
	}
	if c.Concurrency < 0 {
		return fmt.Errorf("worker: Concurrency %d is negative", c.Concurrency)
	}
	if c.Generation < 0 {
		return fmt.Errorf("worker: Generation %d is negative", c.Generation)
	}
	for i, t := range c.Targets {
		if t.Segments == "" || t.Videos == "" {
			return fmt.Errorf("worker: Targets[%d] names no collection", i)
		}
	}
	return nil
}

// ValidateFor checks the configuration against the topology of the lanes
// it takes jobs from: a heartbeat that does not come well within AckWait
// lets JetStream give a running job to another worker, and a job that may
// run longer than the dead-letter dedup window can be dead-lettered twice.
func (c Config) ValidateFor(t queue.Topology) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c, t = c.withDefaults(), t.WithDefaults()
	if c.Heartbeat >= t.AckWait {
		return fmt.Errorf("worker: Heartbeat %s must be shorter than the consumers' AckWait %s", c.Heartbeat, t.AckWait)
	}
	if c.JobTimeout > t.JobTimeout {
		return fmt.Errorf("worker: JobTimeout %s is longer than the topology's JobTimeout %s, which sizes the dead-letter dedup window", c.JobTimeout, t.JobTimeout)
	}
	return nil
}

// Worker processes jobs from the lanes until its context ends.
type Worker struct {
	cfg      Config
	js       jetstream.JetStream
	lanes    queue.Lanes
	statuses *queue.Statuses
	analyzer *analyze.Analyzer
	store    index.Writer
	log      *slog.Logger
}

// New returns a Worker, or the first problem of its configuration.
// Nothing runs until Run.
func New(cfg Config, js jetstream.JetStream, lanes queue.Lanes, statuses *queue.Statuses, a *analyze.Analyzer, store index.Writer) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Worker{cfg: cfg, js: js, lanes: lanes, statuses: statuses, analyzer: a, store: store, log: cfg.Logger}, nil
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

// Process runs one job message to its end and settles it (ack, nak or
// term + dead letter). It never panics.
func (w *Worker) Process(ctx context.Context, msg jetstream.Msg) {
	attempts := 1
	if meta, err := msg.Metadata(); err == nil {
		attempts = int(meta.NumDelivered)
	}
	job, err := queue.ParseJob(msg.Data())
	if err != nil {
		w.settle(ctx, msg, job, attempts, classify(queue.CauseInvalid, err), nil)
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

	// The heartbeat runs until the job is settled: settling may wait out a
	// NATS leader election.
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	defer stopHeartbeat()
	go w.heartbeat(hbCtx, msg)
	runCtx, cancel := context.WithTimeout(ctx, w.cfg.JobTimeout)
	res, out := w.run(runCtx, job, attempts)
	cancel()
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
			if err := msg.InProgress(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
				w.log.Warn("worker: heartbeat failed", "err", err)
			}
		}
	}
}
