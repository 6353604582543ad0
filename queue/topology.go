package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Topology sets the stream and consumer parameters. The zero value is the
// embedded, single-node setup.
type Topology struct {
	// Replicas of every stream. Defaults to 1; use 3 on a cluster.
	Replicas int
	// AckWait is how long a job may go without an ack or a heartbeat before
	// JetStream redelivers it. Defaults to 30s; workers heartbeat well
	// within it.
	AckWait time.Duration
	// MaxAttempts is how many deliveries a job gets before the worker gives
	// it up and dead-letters it with cause "exhausted". Defaults to 5.
	// The consumers themselves redeliver without limit, so a job released
	// at any point (a drain, a crash, a failed dead-letter write) is never
	// stranded on the queue; the worker enforces this limit on delivery,
	// also for a job whose earlier attempts crashed the worker.
	MaxAttempts int
	// DuplicateWindow is how long a job id is remembered for publish
	// deduplication. Defaults to 10m.
	DuplicateWindow time.Duration
	// DLQRetention is how long dead letters are kept. Defaults to 30 days.
	DLQRetention time.Duration
	// EventRetention is how long events are kept for downstream consumers.
	// Defaults to 7 days.
	EventRetention time.Duration
	// StatusTTL, when set, is how long a video's status and its content
	// hash are kept after their last update; 0 keeps them for ever. Every
	// process must run with the same value: each start applies it.
	StatusTTL time.Duration
}

func (t Topology) withDefaults() Topology {
	if t.Replicas <= 0 {
		t.Replicas = 1
	}
	if t.AckWait <= 0 {
		t.AckWait = 30 * time.Second
	}
	if t.MaxAttempts <= 0 {
		t.MaxAttempts = 5
	}
	if t.DuplicateWindow <= 0 {
		t.DuplicateWindow = 10 * time.Minute
	}
	if t.DLQRetention <= 0 {
		t.DLQRetention = 30 * 24 * time.Hour
	}
	if t.EventRetention <= 0 {
		t.EventRetention = 7 * 24 * time.Hour
	}
	return t
}

// dlqDedupWindow covers a job's every delivery: each attempt may wait out
// AckWait and run up to a job's deadline (15 minutes by default).
func dlqDedupWindow(t Topology) time.Duration {
	return time.Duration(t.MaxAttempts) * (t.AckWait + 15*time.Minute)
}

// Lanes are the two job consumers, upload first.
type Lanes struct {
	Upload, Backfill jetstream.Consumer
	MaxAttempts      int
}

// Ensure creates or updates every stream, consumer and bucket of the
// topology. It is safe to run on every start of every process.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) (Lanes, error) {
	t = t.withDefaults()
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
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return Lanes{}, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketVideos,
		Description: "mediavec video status",
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
		TTL:         t.StatusTTL,
	}); err != nil {
		return Lanes{}, fmt.Errorf("ensure bucket %s: %w", BucketVideos, err)
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketContent,
		Description: "mediavec content hashes: the video each exact upload was first indexed as",
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
		TTL:         t.StatusTTL,
	}); err != nil {
		return Lanes{}, fmt.Errorf("ensure bucket %s: %w", BucketContent, err)
	}
	lanes := Lanes{MaxAttempts: t.MaxAttempts}
	for _, c := range []struct {
		name, subject string
		dst           *jetstream.Consumer
	}{
		{ConsumerUpload, SubjectUpload, &lanes.Upload},
		{ConsumerBackfill, SubjectBackfill, &lanes.Backfill},
	} {
		cons, err := js.CreateOrUpdateConsumer(ctx, StreamJobs, jetstream.ConsumerConfig{
			Durable:       c.name,
			FilterSubject: c.subject,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       t.AckWait,
			MaxDeliver:    -1, // see Topology.MaxAttempts
			MaxAckPending: 1000,
		})
		if err != nil {
			return Lanes{}, fmt.Errorf("ensure consumer %s: %w", c.name, err)
		}
		*c.dst = cons
	}
	return lanes, nil
}
