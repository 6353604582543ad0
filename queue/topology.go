package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Topology sets the stream and consumer parameters. The zero value is the
// embedded, single-node setup: each zero field takes the default named
// beside it.
type Topology struct {
	// Replicas of every stream. Defaults to 1; use 3 on a cluster.
	Replicas int
	// AckWait is how long a job may go without an ack or a heartbeat before
	// JetStream redelivers it. Defaults to DefaultAckWait; workers
	// heartbeat well within it.
	AckWait time.Duration
	// MaxAttempts is how many deliveries a job gets before the worker gives
	// it up and dead-letters it with cause "exhausted". Defaults to
	// DefaultMaxAttempts. The consumers themselves redeliver without
	// limit, so a job released at any point (a drain, a crash, a failed
	// dead-letter write) is never stranded on the queue; the worker
	// enforces this limit on delivery, also for a job whose earlier
	// attempts crashed the worker.
	MaxAttempts int
	// JobTimeout is the longest one attempt at a job may run: the
	// workers' own limit (worker.Config.JobTimeout), which sizes the
	// dead-letter dedup window. Defaults to DefaultJobTimeout.
	JobTimeout time.Duration
	// DuplicateWindow is how long a job id is remembered for publish
	// deduplication. Defaults to DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// DLQRetention is how long dead letters are kept. Defaults to
	// DefaultDLQRetention.
	DLQRetention time.Duration
	// EventRetention is how long events are kept for downstream consumers.
	// Defaults to DefaultEventRetention.
	EventRetention time.Duration
	// StatusTTL, when set, is how long a video's status and its content
	// hash are kept after their last update; 0 keeps them for ever. Every
	// process must run with the same value: each start applies it.
	StatusTTL time.Duration
}

// The defaults of Topology.
const (
	DefaultReplicas        = 1
	DefaultAckWait         = 30 * time.Second
	DefaultMaxAttempts     = 5
	DefaultJobTimeout      = 15 * time.Minute
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultDLQRetention    = 30 * 24 * time.Hour
	DefaultEventRetention  = 7 * 24 * time.Hour
)

// WithDefaults returns the topology with every zero field at its default.
func (t Topology) WithDefaults() Topology {
	t.Replicas = cmp.Or(t.Replicas, DefaultReplicas)
	t.AckWait = cmp.Or(t.AckWait, DefaultAckWait)
	t.MaxAttempts = cmp.Or(t.MaxAttempts, DefaultMaxAttempts)
	t.JobTimeout = cmp.Or(t.JobTimeout, DefaultJobTimeout)
	t.DuplicateWindow = cmp.Or(t.DuplicateWindow, DefaultDuplicateWindow)
	t.DLQRetention = cmp.Or(t.DLQRetention, DefaultDLQRetention)
	t.EventRetention = cmp.Or(t.EventRetention, DefaultEventRetention)
	return t
}

// Validate checks the topology, naming the first bad field.
func (t Topology) Validate() error {
	switch {
	case t.Replicas < 0 || t.Replicas > 5:
		return fmt.Errorf("queue: Replicas %d is not in 1..5 (JetStream's limit)", t.Replicas)
	case t.MaxAttempts < 0:
		return fmt.Errorf("queue: MaxAttempts %d is negative", t.MaxAttempts)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"AckWait", t.AckWait}, {"JobTimeout", t.JobTimeout}, {"DuplicateWindow", t.DuplicateWindow},
		{"DLQRetention", t.DLQRetention}, {"EventRetention", t.EventRetention}, {"StatusTTL", t.StatusTTL}} {
		if f.d < 0 {
			return fmt.Errorf("queue: %s %s is negative", f.name, f.d)
		}
	}
	return nil
}

// dlqDedupWindow covers a job's every delivery: each attempt may wait out
// AckWait and run up to JobTimeout.
func dlqDedupWindow(t Topology) time.Duration {
	return time.Duration(t.MaxAttempts) * (t.AckWait + t.JobTimeout)
}

// Lanes are the two job consumers, upload first.
type Lanes struct {
	Upload, Backfill jetstream.Consumer
	MaxAttempts      int
}

// Ensure creates or updates every stream, consumer and bucket of the
// topology. It is safe to run on every start of every process.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) (Lanes, error) {
	if err := t.Validate(); err != nil {
		return Lanes{}, err
	}
	t = t.WithDefaults()
	streams := []jetstream.StreamConfig{
		{
			Name:        StreamJobs,
			Description: "mediavec jobs: uploads and backfill",
			Subjects:    []string{SubjectUpload, SubjectBackfill},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
			Duplicates:  t.DuplicateWindow,
		},
		{
			Name:        StreamDLQ,
			Description: "mediavec dead letters: jobs that cannot be processed, by cause",
			Subjects:    []string{SubjectDLQPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
			MaxAge:      t.DLQRetention,
			// A worker that dies after writing a dead letter and before
			// terminating the job writes it again on a redelivery, which
			// may come after every remaining attempt has run out its time:
			// remember dead-letter ids that long.
			Duplicates: min(t.DLQRetention, dlqDedupWindow(t)),
		},
		{
			Name:        StreamEvents,
			Description: "mediavec events for downstream consumers",
			Subjects:    []string{SubjectIndexed, SubjectFailed},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
			MaxAge:      t.EventRetention,
		},
	}
	for _, cfg := range streams {
		if err := settle(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return Lanes{}, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	if err := settle(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      BucketVideos,
			Description: "mediavec video status",
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
			TTL:         t.StatusTTL,
		})
		return err
	}); err != nil {
		return Lanes{}, fmt.Errorf("ensure bucket %s: %w", BucketVideos, err)
	}
	if err := settle(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      BucketContent,
			Description: "mediavec content hashes: the video each exact upload was first indexed as",
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
			TTL:         t.StatusTTL,
		})
		return err
	}); err != nil {
		return Lanes{}, fmt.Errorf("ensure bucket %s: %w", BucketContent, err)
	}
	if err := settle(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      BucketDeadJobs,
			Description: "mediavec: jobs too large for their dead letter, kept whole for replay",
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
			TTL:         t.DLQRetention,
		})
		return err
	}); err != nil {
		return Lanes{}, fmt.Errorf("ensure object store %s: %w", BucketDeadJobs, err)
	}
	lanes := Lanes{MaxAttempts: t.MaxAttempts}
	for _, c := range []struct {
		name, subject string
		dst           *jetstream.Consumer
	}{
		{ConsumerUpload, SubjectUpload, &lanes.Upload},
		{ConsumerBackfill, SubjectBackfill, &lanes.Backfill},
	} {
		var cons jetstream.Consumer
		err := settle(ctx, func(ctx context.Context) (err error) {
			cons, err = js.CreateOrUpdateConsumer(ctx, StreamJobs, jetstream.ConsumerConfig{
				Durable:       c.name,
				FilterSubject: c.subject,
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       t.AckWait,
				MaxDeliver:    -1, // see Topology.MaxAttempts
				MaxAckPending: 1000,
			})
			return err
		})
		if err != nil {
			return Lanes{}, fmt.Errorf("ensure consumer %s: %w", c.name, err)
		}
		*c.dst = cons
	}
	return lanes, nil
}

// settleTimeout bounds how long Ensure waits for one stream, bucket or
// consumer: on a cluster, a replicated one exists only once its group has
// elected a leader, which takes seconds, more than a JetStream API call's
// default timeout; and a node just restarted answers late.
const settleTimeout = 2 * time.Minute

// settle runs an idempotent create-or-update until it succeeds, retrying
// what a cluster forming or electing answers (a timeout, no responders,
// no suitable peers yet) for up to settleTimeout.
func settle(ctx context.Context, create func(context.Context) error) error {
	start := time.Now()
	for {
		attempt, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := create(attempt)
		cancel()
		if err == nil || ctx.Err() != nil || time.Since(start) > retryFor(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// retryFor is how long an error is worth retrying: a cluster electing
// leaders or placing replicas answers with timeouts and 503s for seconds;
// a server without JetStream (or nothing behind the subject) may be a
// node still starting, but a misconfiguration is more likely, so it gets
// less patience.
func retryFor(err error) time.Duration {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, nats.ErrNoResponders):
		return 20 * time.Second
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrNoStreamResponse):
		return settleTimeout
	case errors.As(err, &apiErr):
		switch {
		case apiErr.Code == 503,
			apiErr.ErrorCode == 10008, // JetStream cluster not available
			apiErr.ErrorCode == 10005, // no suitable peers for placement: a node still joining
			apiErr.ErrorCode == 10023: // insufficient resources
			return settleTimeout
		}
	}
	return 0
}
