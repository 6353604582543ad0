package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetterEntry is one dead letter and its place in the DLQ stream.
type DeadLetterEntry struct {
	Seq uint64 `json:"seq"`
	DeadLetter
}

// ListDeadLetters returns the dead letters of one cause (all when cause is
// ""), oldest first, at most limit (0: all).
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, cause string, limit int) ([]DeadLetterEntry, error) {
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", StreamDLQ, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subjectFor(cause)))
	if err != nil {
		return nil, err
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	if n == 0 {
		return nil, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjectFor(cause)}})
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > n {
		limit = n
	}
	var out []DeadLetterEntry
	for len(out) < limit {
		// Batches: one consumer for the whole listing, and an entry that
		// expired since the count was taken ends the listing, not hangs it.
		batch, err := cons.Fetch(min(256, limit-len(out)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return out, err
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return out, err
			}
			var dl DeadLetter
			if err := json.Unmarshal(msg.Data(), &dl); err != nil {
				return out, fmt.Errorf("dead letter %d: %w", meta.Sequence.Stream, err)
			}
			out = append(out, DeadLetterEntry{Seq: meta.Sequence.Stream, DeadLetter: dl})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return out, err
		}
		if got == 0 {
			break
		}
	}
	return out, nil
}

func subjectFor(cause string) string {
	if cause == "" {
		return SubjectDLQPrefix + ">"
	}
	return SubjectDLQPrefix + cause
}

// ErrSuperseded is returned by ReplayDeadLetter when the video has had a
// newer job since (re-submitted, perhaps indexed from a new source):
// replaying the old one would overwrite it.
var ErrSuperseded = errors.New("the video has a newer job")

// ErrNotReplayable is returned for a dead letter whose job cannot be read
// back (the input itself was not a job).
var ErrNotReplayable = errors.New("dead letter holds no job to replay")

// ReplayDeadLetter puts the job of dead letter seq back on the lane it came
// from, as a new job (its id gets a replay suffix, so JetStream's duplicate
// window does not drop it), then removes the dead letter. The job goes out
// first: a crash between the two leaves the dead letter, never a lost job.
func ReplayDeadLetter(ctx context.Context, js jetstream.JetStream, statuses *Statuses, seq uint64, force bool) (Job, error) {
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return Job{}, fmt.Errorf("open %s: %w", StreamDLQ, err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return Job{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	var dl DeadLetter
	if err := json.Unmarshal(raw.Data, &dl); err != nil {
		return Job{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	whole, err := deadJob(ctx, js, dl)
	if err != nil {
		return Job{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	job, err := ParseJob(whole)
	if err != nil {
		return Job{}, fmt.Errorf("%w: dead letter %d: %v", ErrNotReplayable, seq, err)
	}
	if st, err := statuses.Get(ctx, job.VideoID); err == nil && !force && st.JobID != job.JobID && st.State != StateFailed {
		return Job{}, fmt.Errorf("%w: dead letter %d is job %s of video %s, which is now %s by job %s (--force replays it anyway)", ErrSuperseded, seq, job.JobID, job.VideoID, st.State, st.JobID)
	}
	job.JobID = fmt.Sprintf("%s-replay-%d", strings.SplitN(job.JobID, "-replay-", 2)[0], seq)
	job, err = Submit(ctx, js, statuses, job, dl.Subject == SubjectBackfill)
	if err != nil {
		return job, err
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil {
		return job, fmt.Errorf("job %s replayed, but dead letter %d not removed: %w", job.JobID, seq, err)
	}
	if dl.JobRef != "" {
		if store, err := js.ObjectStore(ctx, BucketDeadJobs); err == nil {
			_ = store.Delete(ctx, dl.JobRef) // it expires with the DLQ's retention otherwise
		}
	}
	return job, nil
}
