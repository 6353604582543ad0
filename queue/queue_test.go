package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestParseJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json string
		wantErr    string // "" for a valid job
	}{
		{"full", `{"v":1,"job_id":"u-1","video_id":"v-1","source":"file:///srv/v.mp4","text":{"title":"t","hashtags":["a"]},"spaces":["frame_dct_v1"],"reprocess":true,"submitted_at":"2026-11-25T10:00:00Z"}`, ""},
		{"unknown fields are ignored", `{"v":1,"video_id":"v","source":"https://cdn.example/v.mp4","future":42}`, ""},
		{"not JSON", `{"v":1,`, "not JSON"},
		{"missing v", `{"video_id":"v","source":"file:///a"}`, `missing "v"`},
		{"future version", `{"v":2,"video_id":"v","source":"file:///a"}`, "version 2"},
		{"missing video_id", `{"v":1,"source":"file:///a"}`, `missing "video_id"`},
		{"missing source", `{"v":1,"video_id":"v"}`, `missing "source"`},
		{"bad scheme", `{"v":1,"video_id":"v","source":"ftp://h/a"}`, "scheme"},
		{"long video id", `{"v":1,"video_id":"` + strings.Repeat("x", 300) + `","source":"file:///a"}`, "256"},
		{"budget", `{"v":1,"video_id":"v","source":"file:///a","budget":6}`, ""},
		{"negative budget", `{"v":1,"video_id":"v","source":"file:///a","budget":-1}`, `"budget" -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJob([]byte(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want ErrInvalidJob mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestFileURL(t *testing.T) {
	t.Parallel()
	if got, want := FileURL("/srv/up loads/a#1.mp4"), "file:///srv/up%20loads/a%231.mp4"; got != want {
		t.Errorf("FileURL = %s, want %s", got, want)
	}
}

// startServer runs an embedded NATS server for one test.
func startServer(t *testing.T, dir string) (jetstream.JetStream, *nats.Conn, *Embedded) {
	t.Helper()
	srv, err := StartEmbedded(EmbeddedConfig{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown() })
	return js, nc, srv
}

func TestTopologyAndSubmit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	js, _, _ := startServer(t, t.TempDir())
	lanes, err := Ensure(ctx, js, Topology{MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second process starting against the same server.
	if _, err := Ensure(ctx, js, Topology{MaxAttempts: 3}); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	info, err := lanes.Upload.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.FilterSubject != SubjectUpload || info.Config.MaxDeliver != -1 || lanes.MaxAttempts != 3 || info.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("upload consumer config %+v", info.Config)
	}
	statuses, err := OpenStatuses(ctx, js)
	if err != nil {
		t.Fatal(err)
	}

	job := Job{JobID: "u-1", VideoID: "clip 3 / ü", Source: FileURL("/tmp/a.mp4"), SubmittedAt: time.Now()}
	if _, err := Submit(ctx, js, statuses, job, false); err != nil {
		t.Fatal(err)
	}
	// A retried publish of the same job id is dropped by JetStream, and
	// leaves the status as the first publish made it.
	if err := statuses.Put(ctx, Status{VideoID: job.VideoID, State: StateProcessing, JobID: "u-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Submit(ctx, js, statuses, job, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := statuses.Get(ctx, job.VideoID); st.State != StateProcessing {
		t.Errorf("a duplicate publish moved the status to %s", st.State)
	}
	if err := statuses.Put(ctx, Status{VideoID: job.VideoID, State: StateQueued, JobID: "u-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Submit(ctx, js, statuses, Job{VideoID: "b", Source: FileURL("/tmp/b.mp4")}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Submit(ctx, js, statuses, Job{VideoID: "c"}, false); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("a job without source: %v", err)
	}
	stream, _ := js.Stream(ctx, StreamJobs)
	si, _ := stream.Info(ctx)
	if si.State.Msgs != 2 {
		t.Errorf("%d messages in %s, want 2 (one deduplicated)", si.State.Msgs, StreamJobs)
	}
	batch, err := lanes.Upload.Fetch(5, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		got, err := ParseJob(m.Data())
		if err != nil || got.VideoID != job.VideoID || m.Headers().Get(jetstream.MsgIDHeader) != "u-1" {
			t.Errorf("upload lane got %+v, %v, msg id %q", got, err, m.Headers().Get(jetstream.MsgIDHeader))
		}
	}
	if n != 1 {
		t.Errorf("upload lane had %d jobs, want 1", n)
	}

	st, err := statuses.Get(ctx, "clip 3 / ü")
	if err != nil || st.State != StateQueued || st.JobID != "u-1" {
		t.Errorf("status %+v, %v", st, err)
	}
	if _, err := statuses.Get(ctx, "never"); !errors.Is(err, ErrUnknownVideo) {
		t.Errorf("unknown video: %v", err)
	}
}

// Jobs are on disk: a server restarted on the same store still has them.
func TestJobsSurviveServerRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	srv, err := StartEmbedded(EmbeddedConfig{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := nats.Connect(srv.ClientURL())
	js, _ := jetstream.New(nc)
	if _, err := Ensure(ctx, js, Topology{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Submit(ctx, js, nil, Job{VideoID: "a", Source: FileURL("/a.mp4")}, false); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()

	js2, _, _ := startServer(t, dir)
	lanes, err := Ensure(ctx, js2, Topology{})
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := lanes.Upload.Next(jetstream.FetchContext(fctx))
	if err != nil {
		t.Fatalf("job lost across restart: %v", err)
	}
	if j, _ := ParseJob(msg.Data()); j.VideoID != "a" {
		t.Errorf("got job %+v", j)
	}
}

func TestStatusLine(t *testing.T) {
	t.Parallel()
	if got := (Status{State: StateFailed, Cause: CauseDecode, Error: "bad"}).Line(); got != "failed: decode: bad" {
		t.Errorf("line %q", got)
	}
	if got := (Status{State: StateIndexed}).Line(); got != "indexed" {
		t.Errorf("line %q", got)
	}
}

// TestEventsOncePerJob: a job redelivered after its event was written (its
// ack lost) announces itself once; a new job for the same video, and its
// failure, are events of their own.
func TestEventsOncePerJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	js, _, _ := startServer(t, t.TempDir())
	if _, err := Ensure(ctx, js, Topology{MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{
		{VideoID: "v", JobID: "j1", State: StateIndexed},
		{VideoID: "v", JobID: "j1", State: StateIndexed},
		{VideoID: "v", JobID: "j2", State: StateIndexed},
		{VideoID: "v", JobID: "j2", State: StateFailed},
	} {
		if err := PublishEvent(ctx, js, ev); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects; got[SubjectIndexed] != 2 || got[SubjectFailed] != 1 {
		t.Errorf("events by subject %v, want 2 indexed (j1 once, j2) and 1 failed", got)
	}
}
