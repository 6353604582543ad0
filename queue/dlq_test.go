package queue

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestDeadLettersListDedupAndReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	js, _, _ := startServer(t, t.TempDir())
	lanes, err := Ensure(ctx, js, Topology{})
	if err != nil {
		t.Fatal(err)
	}
	statuses, _ := OpenStatuses(ctx, js)
	job := func(id string) json.RawMessage {
		b, _ := json.Marshal(Job{V: 1, JobID: "j-" + id, VideoID: id, Source: FileURL("/tmp/" + id + ".mp4"), SubmittedAt: time.Now()})
		return b
	}
	for _, dl := range []struct {
		d     DeadLetter
		dedup string
	}{
		{DeadLetter{Cause: CauseDecode, Error: "truncated", Subject: SubjectUpload, Job: job("a")}, "dlq-1"},
		{DeadLetter{Cause: CauseDecode, Error: "truncated", Subject: SubjectUpload, Job: job("a")}, "dlq-1"}, // a redelivery's second write
		{DeadLetter{Cause: CauseExhausted, Error: "index down", Subject: SubjectBackfill, Job: job("b")}, "dlq-2"},
		{DeadLetter{Cause: CauseInvalid, Error: "not JSON", Subject: SubjectUpload, Job: json.RawMessage("{nope")}, "dlq-3"},
	} {
		if err := PublishDeadLetter(ctx, js, dl.d, dl.dedup); err != nil {
			t.Fatal(err)
		}
	}
	all, err := ListDeadLetters(ctx, js, "", 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("all dead letters: %d (%v), want 3 (the repeated write kept once)", len(all), err)
	}
	decode, _ := ListDeadLetters(ctx, js, CauseDecode, 0)
	if len(decode) != 1 || decode[0].Error != "truncated" {
		t.Errorf("decode dead letters: %+v", decode)
	}

	// Replay b: back on its lane (backfill) under a new job id, status
	// queued, dead letter gone.
	var b DeadLetterEntry
	for _, e := range all {
		if e.Cause == CauseExhausted {
			b = e
		}
	}
	replayed, err := ReplayDeadLetter(ctx, js, statuses, b.Seq, false)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.VideoID != "b" || replayed.JobID == "j-b" {
		t.Errorf("replayed job %+v: want video b under a new job id", replayed)
	}
	batch, err := lanes.Backfill.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		j, _ := ParseJob(m.Data())
		if j.VideoID != "b" || j.JobID != replayed.JobID {
			t.Errorf("backfill lane got %+v", j)
		}
		got++
		m.Ack()
	}
	if got != 1 {
		t.Errorf("%d jobs on the backfill lane after the replay, want 1", got)
	}
	if st, _ := statuses.Get(ctx, "b"); st.State != StateQueued {
		t.Errorf("status of b after replay: %s", st.State)
	}
	if left, _ := ListDeadLetters(ctx, js, "", 0); len(left) != 2 {
		t.Errorf("%d dead letters after replaying one, want 2", len(left))
	}
	// A dead letter of a job since superseded by a newer one is not
	// replayed over it, unless forced.
	for _, e := range all {
		if e.Cause == CauseDecode {
			statuses.Put(ctx, Status{VideoID: "a", State: StateIndexed, JobID: "j-a-newer"})
			if _, err := ReplayDeadLetter(ctx, js, statuses, e.Seq, false); !errors.Is(err, ErrSuperseded) {
				t.Errorf("replaying over a newer job: %v, want ErrSuperseded", err)
			}
			if _, err := ReplayDeadLetter(ctx, js, statuses, e.Seq, true); err != nil {
				t.Errorf("forced replay: %v", err)
			}
		}
	}
	// The unparseable input has no job to replay.
	for _, e := range all {
		if e.Cause == CauseInvalid {
			if _, err := ReplayDeadLetter(ctx, js, statuses, e.Seq, false); !errors.Is(err, ErrNotReplayable) {
				t.Errorf("replaying a non-job: %v", err)
			}
		}
	}
}
