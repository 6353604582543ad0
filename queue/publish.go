package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DLQ causes.
const (
	CauseInvalid   = "invalid"
	CauseDecode    = "decode"
	CauseModel     = "model"
	CauseIndex     = "index"
	CauseExhausted = "exhausted"
)

// Submit records the video as queued and publishes its job on the lane's
// subject with Nats-Msg-Id set to the job id, so a retried publish is not
// processed twice.
// It returns the job as published, with its defaults filled in.
func Submit(ctx context.Context, js jetstream.JetStream, statuses *Statuses, job Job, backfill bool) (Job, error) {
	if job.V == 0 {
		job.V = JobVersion
	}
	if job.SubmittedAt.IsZero() {
		job.SubmittedAt = time.Now().UTC()
	}
	if job.JobID == "" {
		job.JobID = DefaultJobID(job.VideoID, job.SubmittedAt)
	}
	if err := job.Validate(); err != nil {
		return job, err
	}
	body, err := json.Marshal(job)
	if err != nil {
		return job, err
	}
	subject := SubjectUpload
	if backfill {
		subject = SubjectBackfill
	}
	// "queued" is written before the publish, so a worker that picks the
	// job up at once can never be overwritten by it; if the publish fails
	// or is a duplicate, the previous status is put back.
	var restore func()
	if statuses != nil {
		prev, prevErr := statuses.Get(ctx, job.VideoID)
		if prevErr != nil && !errors.Is(prevErr, ErrUnknownVideo) {
			return job, prevErr
		}
		if err := statuses.Put(ctx, Status{VideoID: job.VideoID, State: StateQueued, JobID: job.JobID, Source: job.Source}); err != nil {
			return job, err
		}
		restore = func() {
			if prevErr == nil {
				_ = statuses.Put(ctx, prev)
			} else {
				_ = statuses.Delete(ctx, job.VideoID)
			}
		}
	}
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, job.JobID)
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil || ack.Duplicate {
		if restore != nil {
			restore()
		}
	}
	if err != nil {
		return job, fmt.Errorf("publish job %s for video %s: %w", job.JobID, job.VideoID, err)
	}
	return job, nil
}

// DeadLetter is a job that cannot be processed, with why. It always fits
// in a NATS message: the error is cut to MaxDeadLetterError bytes, and a
// job over MaxDeadLetterJob bytes is kept whole in the BucketDeadJobs
// object store (JobRef names it) while Job holds its start.
type DeadLetter struct {
	Cause    string          `json:"cause"`
	Error    string          `json:"error"`
	Attempts int             `json:"attempts"`
	Subject  string          `json:"subject"` // where the job came from, for replay
	Job      json.RawMessage `json:"job"`
	// JobRef, when set, is the name of the whole job in BucketDeadJobs,
	// and Job an excerpt of it (a JSON string); JobBytes is its size.
	JobRef   string    `json:"job_ref,omitempty"`
	JobBytes int       `json:"job_bytes,omitempty"`
	FailedAt time.Time `json:"failed_at"`
}

// Bounds of a dead letter's parts: far under NATS's default 1 MiB
// payload, whatever the job and the error were.
const (
	MaxDeadLetterJob   = 16 << 10
	MaxDeadLetterError = 4 << 10
)

// Excerpt is s cut to at most n bytes on a rune boundary, marked as cut.
func Excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "… (cut)"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// PublishDeadLetter writes an entry on mediavec.dlq.<cause>. dedupID, when
// set, is the entry's Nats-Msg-Id: a worker that crashes after writing the
// entry but before terminating the job writes it again on redelivery, and
// JetStream keeps one.
func PublishDeadLetter(ctx context.Context, js jetstream.JetStream, dl DeadLetter, dedupID string) error {
	if dl.FailedAt.IsZero() {
		dl.FailedAt = time.Now().UTC()
	}
	dl.Error = Excerpt(dl.Error, MaxDeadLetterError)
	if len(dl.Job) > MaxDeadLetterJob {
		// Named by content (and by message, when known): a recreated
		// stream reusing sequence numbers cannot make two jobs share one.
		sum := sha256.Sum256(dl.Job)
		ref := "job-" + hex.EncodeToString(sum[:12])
		if dedupID != "" {
			ref = dedupID + "-" + hex.EncodeToString(sum[:6])
		}
		if err := putDeadJob(ctx, js, ref, dl.Job); err != nil {
			// Not written without the whole job: the caller leaves the
			// job on its lane and tries again.
			return err
		}
		dl.JobRef, dl.JobBytes = ref, len(dl.Job)
		dl.Job = jsonExcerpt(string(dl.Job), MaxDeadLetterJob)
	}
	if !json.Valid(dl.Job) {
		// Keep unparseable input, but as a JSON string so the entry stays JSON.
		raw, _ := json.Marshal(string(dl.Job))
		dl.Job = raw
	}
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	var opts []jetstream.PublishOpt
	if dedupID != "" {
		opts = append(opts, jetstream.WithMsgID(dedupID))
	}
	if _, err := js.Publish(ctx, SubjectDLQPrefix+dl.Cause, b, opts...); err != nil {
		return fmt.Errorf("publish dead letter (%s): %w", dl.Cause, err)
	}
	return nil
}

// jsonExcerpt is s cut so that it fits in at most n bytes as a JSON
// string: escaping can make a string several times longer than its text.
func jsonExcerpt(s string, n int) json.RawMessage {
	for cut := n; ; cut /= 2 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(Excerpt(s, cut))
		if b := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); len(b) <= n || cut < 16 {
			return b
		}
	}
}

// putDeadJob keeps a large dead job whole in BucketDeadJobs.
func putDeadJob(ctx context.Context, js jetstream.JetStream, name string, job []byte) error {
	store, err := js.ObjectStore(ctx, BucketDeadJobs)
	if err != nil {
		return fmt.Errorf("open %s: %w", BucketDeadJobs, err)
	}
	if _, err := store.PutBytes(ctx, name, job); err != nil {
		return fmt.Errorf("keep job %s: %w", name, err)
	}
	return nil
}

// deadJob reads back the whole job of a dead letter.
func deadJob(ctx context.Context, js jetstream.JetStream, dl DeadLetter) ([]byte, error) {
	if dl.JobRef == "" {
		return dl.Job, nil
	}
	store, err := js.ObjectStore(ctx, BucketDeadJobs)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", BucketDeadJobs, err)
	}
	b, err := store.GetBytes(ctx, dl.JobRef)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", dl.JobRef, err)
	}
	return b, nil
}

// Event tells downstream consumers that a video was indexed or failed.
type Event struct {
	VideoID string             `json:"video_id"`
	JobID   string             `json:"job_id"`
	State   string             `json:"state"`
	Cause   string             `json:"cause,omitempty"`
	Error   string             `json:"error,omitempty"`
	Spaces  map[string]int     `json:"spaces,omitempty"`
	Stages  map[string]float64 `json:"stages_ms,omitempty"`
	// Labels is the video's object label summary: each COCO label seen,
	// with the number of sampled frames it was seen in.
	Labels map[string]int `json:"labels,omitempty"`
	// Safety is the video's content-safety summary: per class the highest
	// frame probability ("porn_max") and the share of frames showing it
	// ("porn_share"), "unsafe_frames", "frames"; Unsafe says it is not safe
	// to show.
	Safety map[string]float64 `json:"safety,omitempty"`
	Unsafe bool               `json:"unsafe,omitempty"`
	// Cut counts, by analysis stage, the texts longer than its model
	// reads, which were embedded cut at its limit.
	Cut map[string]int `json:"cut,omitempty"`
	// Budget is what the job's compute budget did, when it had one:
	// the frames the costly models skipped to keep to it.
	Budget *Budget `json:"budget,omitempty"`
	// DuplicateOf links an exact re-upload to the video it repeats.
	DuplicateOf string    `json:"duplicate_of,omitempty"`
	At          time.Time `json:"at"`
}

// PublishEvent writes an event on mediavec.events.indexed or .failed. The
// event's message id is its job and state, so a job redelivered after its
// event was written (a lost ack) does not announce itself twice within the
// stream's duplicate window.
func PublishEvent(ctx context.Context, js jetstream.JetStream, ev Event) error {
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	subject := SubjectIndexed
	if ev.State == StateFailed {
		subject = SubjectFailed
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var opts []jetstream.PublishOpt
	if ev.JobID != "" {
		opts = append(opts, jetstream.WithMsgID("event-"+ev.JobID+"-"+ev.State))
	}
	if _, err := js.Publish(ctx, subject, b, opts...); err != nil {
		return fmt.Errorf("publish %s event for %s: %w", ev.State, ev.VideoID, err)
	}
	return nil
}
