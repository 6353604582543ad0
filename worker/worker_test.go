package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
)

var (
	speechOnce sync.Once
	speech     *encoders.Speech
	speechErr  error
)

// testAnalyzer shares one set of real ONNX sessions across the package's
// tests; sessions are safe for concurrent runs.
func testAnalyzer(t *testing.T) *analyze.Analyzer {
	t.Helper()
	speechOnce.Do(func() {
		if speechErr = encoders.InitRuntime(encoders.DefaultORTLib()); speechErr == nil {
			speech, speechErr = encoders.LoadSpeech(encoders.DefaultModelsDir(), encoders.SessionConfig{})
		}
	})
	if speechErr != nil {
		t.Fatalf("%v (run scripts/setup)", speechErr)
	}
	a, err := analyze.New(analyze.Config{}, analyze.Models{Speech: speech})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// flakyStore is the real embedded index behind a switch that makes writes
// fail, to inject an index outage.
type flakyStore struct {
	*embedded.Index
	failures atomic.Int32 // writes left to fail; -1 fails forever
}

func (s *flakyStore) ReplaceVideo(ctx context.Context, collection, videoID string, pts []index.Point) error {
	switch n := s.failures.Load(); {
	case n < 0:
		return errors.New("index unavailable")
	case n > 0:
		s.failures.Add(-1)
		return errors.New("index unavailable")
	}
	return s.Index.ReplaceVideo(ctx, collection, videoID, pts)
}

type harness struct {
	js       jetstream.JetStream
	lanes    queue.Lanes
	statuses *queue.Statuses
	store    *flakyStore
	worker   *Worker
}

// start runs a worker against an embedded NATS server and index.
func start(t *testing.T, maxAttempts int) *harness {
	h := setup(t, queue.Topology{MaxAttempts: maxAttempts})
	h.run(t)
	return h
}

// setup makes the server, topology, index and worker, but runs nothing.
func setup(t *testing.T, topo queue.Topology) *harness {
	t.Helper()
	return setupWith(t, topo, testAnalyzer(t))
}

// setupWith is setup with the worker's analyzer.
func setupWith(t *testing.T, topo queue.Topology, a *analyze.Analyzer) *harness {
	t.Helper()
	ctx := t.Context()
	srv, err := queue.StartEmbedded(queue.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	lanes, err := queue.Ensure(ctx, js, topo)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := queue.OpenStatuses(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	segSchema, vidSchema := Schemas(analyze.BuiltinSpaces())
	if err := index.EnsureGeneration(ctx, idx, 1, segSchema, vidSchema); err != nil {
		t.Fatal(err)
	}
	contents, err := queue.OpenContents(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{js: js, lanes: lanes, statuses: statuses, store: &flakyStore{Index: idx}}
	h.worker, err = New(Config{Concurrency: 1, RetryBase: 20 * time.Millisecond, FetchWait: 100 * time.Millisecond, Contents: contents,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}, js, lanes, statuses, a, h.store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		idx.Close()
		nc.Close()
		srv.Shutdown()
	})
	return h
}

// run starts the worker until the test ends.
func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.worker.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) wait(t *testing.T, videoID string, states ...string) queue.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var st queue.Status
	for time.Now().Before(deadline) {
		st, _ = h.statuses.Get(t.Context(), videoID)
		for _, s := range states {
			if st.State == s {
				return st
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("video %s is %+v, want %v", videoID, st, states)
	return st
}

func (h *harness) deadLetters(t *testing.T) []queue.DeadLetter {
	t.Helper()
	stream, err := h.js.Stream(t.Context(), queue.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var out []queue.DeadLetter
	for m := range batch.Messages() {
		var dl queue.DeadLetter
		if err := json.Unmarshal(m.Data(), &dl); err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

func (h *harness) jobsLeft(t *testing.T) uint64 {
	t.Helper()
	stream, _ := h.js.Stream(t.Context(), queue.StreamJobs)
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func clip(t *testing.T, name string) string {
	t.Helper()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	return clips.MakeT(t, t.TempDir(), clips.Spec{Name: name, Video: "testsrc2", Audio: "sine=frequency=500", Seconds: 3})
}

// Messages that are not valid jobs go to the DLQ as "invalid", and the
// worker goes on with the next job.
func TestInvalidJobsAreDeadLettered(t *testing.T) {
	t.Parallel()
	h := start(t, 3)
	ctx := t.Context()
	for _, body := range []string{`not json`, `{"v":1,"video_id":"nosrc"}`, `{"v":1,"video_id":"ftp","source":"ftp://x/a.mp4"}`} {
		if _, err := h.js.Publish(ctx, queue.SubjectUpload, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: "good", Source: queue.FileURL(clip(t, "good"))}, false); err != nil {
		t.Fatal(err)
	}
	st := h.wait(t, "good", queue.StateIndexed)
	if st.Spaces[encoders.SpaceFrameDCT] != 3 || st.Spaces[encoders.SpaceAudioSpeech] == 0 {
		t.Errorf("indexed segments %v", st.Spaces)
	}
	h.wait(t, "nosrc", queue.StateFailed)
	dls := h.deadLetters(t)
	if len(dls) != 3 {
		t.Fatalf("%d dead letters, want 3: %+v", len(dls), dls)
	}
	for _, dl := range dls {
		if dl.Cause != queue.CauseInvalid || dl.Error == "" || dl.Subject != queue.SubjectUpload {
			t.Errorf("dead letter %+v", dl)
		}
	}
	if string(dls[0].Job) != `"not json"` {
		t.Errorf("the unparseable body is kept as a JSON string, got %s", dls[0].Job)
	}
	h.waitJobsLeft(t, 0)
}

// An index outage is transient: the job is retried and indexed once the
// index is back, with the points written exactly once.
func TestTransientFailureIsRetried(t *testing.T) {
	t.Parallel()
	h := start(t, 5)
	h.store.failures.Store(2)
	ctx := t.Context()
	if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: "v", Source: queue.FileURL(clip(t, "v"))}, false); err != nil {
		t.Fatal(err)
	}
	st := h.wait(t, "v", queue.StateIndexed)
	if st.Attempts != 3 {
		t.Errorf("indexed on attempt %d, want 3 (two failed writes)", st.Attempts)
	}
	n, _ := h.store.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{"v"}})
	if want := st.Spaces[encoders.SpaceFrameDCT] + st.Spaces[encoders.SpaceAudioSpeech]; n != want {
		t.Errorf("%d segment points, want %d", n, want)
	}
	if len(h.deadLetters(t)) != 0 {
		t.Error("a job that succeeded on retry has a dead letter")
	}
}

// A job that keeps failing transiently is dead-lettered as "exhausted"
// after MaxAttempts attempts, not retried forever.
func TestExhaustedJobIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := start(t, 2)
	h.store.failures.Store(-1)
	ctx := t.Context()
	if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: "v", Source: queue.FileURL(clip(t, "v"))}, false); err != nil {
		t.Fatal(err)
	}
	st := h.wait(t, "v", queue.StateFailed)
	if st.Cause != queue.CauseExhausted || st.Attempts != 2 {
		t.Errorf("status %+v, want cause exhausted after 2 attempts", st)
	}
	dls := h.deadLetters(t)
	if len(dls) != 1 || dls[0].Cause != queue.CauseExhausted || dls[0].Attempts != 2 {
		t.Fatalf("dead letters %+v", dls)
	}
	h.waitJobsLeft(t, 0)
}

// A source the policy forbids (here an http URL on loopback) is a bad job:
// dead-lettered as "invalid" without a retry, and never fetched.
func TestForbiddenSourceIsInvalid(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	h := start(t, 3)
	if _, err := queue.Submit(t.Context(), h.js, h.statuses, queue.Job{VideoID: "ssrf", Source: srv.URL + "/admin.mp4"}, false); err != nil {
		t.Fatal(err)
	}
	st := h.wait(t, "ssrf", queue.StateFailed)
	if st.Cause != queue.CauseInvalid || st.Attempts != 1 || !strings.Contains(st.Error, "internal address") {
		t.Errorf("status %+v", st)
	}
	if hits.Load() != 0 {
		t.Errorf("the forbidden server was called %d times", hits.Load())
	}
}

// A job whose earlier deliveries never settled — the worker crashed on it,
// say — is dead-lettered on the delivery after the last allowed attempt,
// without being run again.
func TestCrashLoopingJobIsGivenUp(t *testing.T) {
	t.Parallel()
	h := setup(t, queue.Topology{MaxAttempts: 2, AckWait: 300 * time.Millisecond})
	ctx := t.Context()
	if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: "poison", Source: queue.FileURL(clip(t, "poison"))}, false); err != nil {
		t.Fatal(err)
	}
	// Two deliveries that a "crashed" worker never settles.
	for i := 1; i <= 2; i++ {
		msg, err := h.lanes.Upload.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if meta, _ := msg.Metadata(); meta.NumDelivered != uint64(i) {
			t.Fatalf("delivery %d has NumDelivered %d", i, meta.NumDelivered)
		}
	}
	h.run(t)
	st := h.wait(t, "poison", queue.StateFailed)
	if st.Cause != queue.CauseExhausted || st.Attempts != 3 {
		t.Errorf("status %+v, want exhausted on the 3rd delivery", st)
	}
	if n, _ := h.store.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{"poison"}}); n != 0 {
		t.Errorf("the given-up job was run: %d points", n)
	}
	// The status is written before the message is terminated (a lost
	// Term leaves a job to redeliver, never a job without a status): wait
	// for the Term.
	h.waitJobsLeft(t, 0)
}

// waitJobsLeft waits until the work queue holds n jobs.
func (h *harness) waitJobsLeft(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.jobsLeft(t) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs left, want %d", h.jobsLeft(t), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An exact re-upload under another id is recorded as a duplicate of the
// first, without being embedded; with reprocess it is embedded anyway.
func TestExactReuploadIsADuplicate(t *testing.T) {
	t.Parallel()
	h := start(t, 5)
	ctx := t.Context()
	src := queue.FileURL(clip(t, "orig"))
	submit := func(id string, reprocess bool) {
		t.Helper()
		if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: id, Source: src, Reprocess: reprocess}, false); err != nil {
			t.Fatal(err)
		}
	}
	submit("orig", false)
	h.wait(t, "orig", queue.StateIndexed)
	submit("copy", false)
	st := h.wait(t, "copy", queue.StateDuplicate, queue.StateIndexed)
	if st.State != queue.StateDuplicate || st.DuplicateOf != "orig" || st.Line() != "duplicate of orig" {
		t.Fatalf("re-upload: %+v, want a duplicate of orig", st)
	}
	if n, _ := h.store.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{"copy"}}); n != 0 {
		t.Errorf("the duplicate has %d points of its own", n)
	}
	// The original itself, re-submitted, is not its own duplicate.
	submit("orig", false)
	if st := h.wait(t, "orig", queue.StateIndexed, queue.StateDuplicate); st.State != queue.StateIndexed {
		t.Errorf("the original re-submitted: %s", st.Line())
	}
	submit("copy", true)
	if st := h.wait(t, "copy", queue.StateIndexed, queue.StateDuplicate); st.State != queue.StateIndexed {
		t.Errorf("with reprocess: %s, want indexed", st.Line())
	}
}

// A thousand jobs published at once are all processed, none lost, while
// the worker holds only as many as it runs (heap and unacknowledged jobs
// stay bounded), and the throughput is printed.
func TestThousandJobsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand jobs; skipped in -short mode")
	}
	h := setup(t, queue.Topology{MaxAttempts: 5})
	ctx := t.Context()
	src := queue.FileURL(clips.MakeT(t, t.TempDir(), clips.Spec{Name: "tiny", Video: "testsrc2", Seconds: 0.5, Width: 64, Height: 48}))
	const n = 1000
	for i := range n {
		job := queue.Job{VideoID: fmt.Sprintf("load-%04d", i), Source: src, Spaces: []string{encoders.SpaceFrameDCT}, Reprocess: true}
		if _, err := queue.Submit(ctx, h.js, h.statuses, job, false); err != nil {
			t.Fatal(err)
		}
	}
	var peakHeap uint64
	var peakAckPending int
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapAlloc)
			if info, err := h.lanes.Upload.Info(ctx); err == nil {
				peakAckPending = max(peakAckPending, info.NumAckPending)
			}
		}
	}()
	start := time.Now()
	h.run(t)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		info, err := h.lanes.Upload.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs pending and %d in flight after 5 minutes", info.NumPending, info.NumAckPending)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	indexed := 0
	for i := range n {
		if st, err := h.statuses.Get(ctx, fmt.Sprintf("load-%04d", i)); err == nil && st.State == queue.StateIndexed {
			indexed++
		}
	}
	if indexed != n {
		t.Errorf("%d of %d jobs indexed", indexed, n)
	}
	if got, _ := h.store.Count(ctx, index.Videos, index.Filter{}); got != n {
		t.Errorf("%d video points, want %d", got, n)
	}
	if len(h.deadLetters(t)) != 0 {
		t.Error("dead letters under load")
	}
	if peakAckPending > 1 || peakHeap > 256<<20 {
		t.Errorf("unbounded: up to %d jobs taken at once (one worker slot), peak heap %d MiB", peakAckPending, peakHeap>>20)
	}
	fmt.Printf("load: %d jobs in %.1fs, %.1f jobs/s; peak heap %d MiB, at most %d job(s) unacknowledged\n",
		n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), peakHeap>>20, peakAckPending)
	t.Logf("%d jobs in %s (%.1f jobs/s), peak heap %d MiB", n, elapsed, float64(n)/elapsed.Seconds(), peakHeap>>20)
}

// Outcomes are decided by the code that knows: a write the index refuses
// (a vector its schema does not hold) is permanent and dead-lettered as
// "index" at once, and a job asking for a space no model computes is a bad
// job, dead-lettered as "invalid" — neither is retried.
func TestPermanentFailuresAreNotRetried(t *testing.T) {
	t.Parallel()
	h := setup(t, queue.Topology{MaxAttempts: 5})
	ctx := t.Context()
	// A generation made for frames only: the audio vectors a job computes
	// do not fit it.
	narrow := index.Schema{Dense: map[string]int{encoders.SpaceFrameDCT: encoders.FrameDCTDim}, Sparse: []string{encoders.SpaceTextLexical}}
	for _, c := range []string{"narrow_seg", "narrow_vid"} {
		if err := h.store.Ensure(ctx, c, narrow); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	h.worker, err = New(Config{Concurrency: 1, RetryBase: 20 * time.Millisecond, FetchWait: 100 * time.Millisecond,
		Targets: []Target{{Segments: "narrow_seg", Videos: "narrow_vid"}}, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))},
		h.js, h.lanes, h.statuses, testAnalyzer(t), h.store)
	if err != nil {
		t.Fatal(err)
	}
	h.run(t)
	if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: "misfit", Source: queue.FileURL(clip(t, "misfit"))}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Submit(ctx, h.js, h.statuses, queue.Job{VideoID: "nospace", Source: queue.FileURL(clip(t, "nospace")), Spaces: []string{"frame_nope_v9"}}, false); err != nil {
		t.Fatal(err)
	}
	for id, cause := range map[string]string{"misfit": queue.CauseIndex, "nospace": queue.CauseInvalid} {
		st := h.wait(t, id, queue.StateFailed)
		if st.Cause != cause || st.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, want cause %s on the first", id, st.Line(), st.Attempts, cause)
		}
	}
	if dls := h.deadLetters(t); len(dls) != 2 {
		t.Errorf("%d dead letters, want 2: %+v", len(dls), dls)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		stage     string
		err       error
		cause     string
		transient bool
	}{
		{"bad job", queue.CauseDecode, fmt.Errorf("parse: %w", queue.ErrInvalidJob), queue.CauseInvalid, false},
		{"unknown space", queue.CauseDecode, fmt.Errorf("%w %q", analyze.ErrUnknownSpace, "x"), queue.CauseInvalid, false},
		{"forbidden source", queue.CauseDecode, &decode.Error{Kind: decode.KindForbidden, Err: errors.New("outside roots")}, queue.CauseInvalid, false},
		{"broken file", queue.CauseDecode, &decode.Error{Kind: decode.KindInvalid, Err: errors.New("moov atom not found")}, queue.CauseDecode, false},
		{"read timeout", queue.CauseDecode, &decode.Error{Kind: decode.KindTransient, Err: errors.New("i/o timeout")}, queue.CauseDecode, true},
		{"model", queue.CauseDecode, &encoders.Error{Model: "m", Op: "run", Err: errors.New("bad shape")}, queue.CauseModel, false},
		{"bad vector", queue.CauseIndex, fmt.Errorf("replace video: %w", index.ErrBadVector), queue.CauseIndex, false},
		{"schema", queue.CauseIndex, fmt.Errorf("ensure: %w", index.ErrSchema), queue.CauseIndex, false},
		{"index down", queue.CauseIndex, errors.New("connection refused"), queue.CauseIndex, true},
		{"deadline", queue.CauseDecode, context.DeadlineExceeded, queue.CauseDecode, true},
	} {
		out := classify(c.stage, c.err)
		if out.cause != c.cause || out.transient != c.transient || out.err != c.err {
			t.Errorf("%s: cause %q transient %v, want %q %v", c.name, out.cause, out.transient, c.cause, c.transient)
		}
	}
}

func TestConfigValidateFor(t *testing.T) {
	t.Parallel()
	topo := queue.Topology{AckWait: 30 * time.Second}
	for _, c := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{Heartbeat: 10 * time.Second}, ""},
		{Config{Heartbeat: 30 * time.Second}, "Heartbeat"},
		{Config{JobTimeout: 2 * time.Hour}, "dead-letter dedup window"},
		{Config{RetryBase: -time.Second}, "RetryBase"},
		{Config{Targets: []Target{{Segments: "s"}}}, "Targets[0]"},
	} {
		err := c.cfg.ValidateFor(topo)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := (Config{JobTimeout: 2 * time.Hour}).ValidateFor(queue.Topology{JobTimeout: 2 * time.Hour}); err != nil {
		t.Errorf("a topology sized for two-hour jobs: %v", err)
	}
}

// A failing job just under NATS's 1 MiB payload limit still lands in the
// DLQ — an excerpt in the dead letter, the whole job kept by reference —
// its status says failed, and a replay gets the whole job back.
func TestHugeFailingJobIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := start(t, 3)
	ctx := t.Context()
	job := queue.Job{V: queue.JobVersion, JobID: "huge-1", VideoID: "huge", Source: "file:///nonexistent/huge.mp4", Text: &queue.JobText{}}
	body, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	// 100 bytes under the limit: the job fits, a dead letter holding it
	// whole cannot.
	caption := strings.Repeat("x", 1<<20-100-len(body)-len(`"caption":""`))
	job.Text.Caption = caption
	if body, err = json.Marshal(job); err != nil {
		t.Fatal(err)
	}
	if len(body) != 1<<20-100 {
		t.Fatalf("job of %d bytes, want 100 under 1 MiB", len(body))
	}
	if _, err := h.js.Publish(ctx, queue.SubjectUpload, body); err != nil {
		t.Fatal(err)
	}
	st := h.wait(t, "huge", queue.StateFailed)
	if st.Cause != queue.CauseDecode || len(st.Error) > queue.MaxDeadLetterError {
		t.Errorf("status %s (%d bytes of error)", st.Line(), len(st.Error))
	}
	dls := h.deadLetters(t)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	if dl.JobRef == "" || dl.JobBytes != len(body) || len(dl.Job) > queue.MaxDeadLetterJob {
		t.Errorf("dead letter: ref %q, job_bytes %d (want %d), excerpt of %d bytes", dl.JobRef, dl.JobBytes, len(body), len(dl.Job))
	}
	h.waitJobsLeft(t, 0)
	entries, err := queue.ListDeadLetters(ctx, h.js, "", 0)
	if err != nil || len(entries) != 1 {
		t.Fatalf("list: %v %v", entries, err)
	}
	replayed, err := queue.ReplayDeadLetter(ctx, h.js, h.statuses, entries[0].Seq, false)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Text == nil || replayed.Text.Caption != caption {
		t.Errorf("replay did not get the whole job back")
	}
}
