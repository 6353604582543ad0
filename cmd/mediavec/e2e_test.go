package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/index/qdranttest"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/search"
)

// fixtures are the clips of the end-to-end test, made once with ffmpeg.
type fixtures struct {
	good      []string // clip1…clip5
	query     string   // clip3 at half the resolution and a lower bitrate
	truncated string   // clip1 cut short, no moov atom
	empty     string   // zero bytes
	late      string   // a sixth clip, for the restart test
}

func makeFixtures(t *testing.T) fixtures {
	t.Helper()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed to make test clips: run scripts/setup")
	}
	dir := t.TempDir()
	var f fixtures
	specs := clips.Standard()
	f.good = make([]string, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { f.good[i] = clips.MakeT(t, dir, s) })
	}
	wg.Go(func() {
		f.late = clips.MakeT(t, dir, clips.Spec{Name: "clip6", Video: "rgbtestsrc", Audio: "sine=frequency=660", Seconds: 8})
	})
	wg.Wait()
	f.query = filepath.Join(dir, "query-clip3-half.mp4")
	if err := clips.Reencode(f.good[2], f.query, 0.5, "120k"); err != nil {
		t.Fatal(err)
	}
	f.truncated = filepath.Join(dir, "truncated.mp4")
	st, _ := os.Stat(f.good[0])
	if err := clips.Truncate(f.good[0], f.truncated, st.Size()/3); err != nil {
		t.Fatal(err)
	}
	f.empty = filepath.Join(dir, "empty.mp4")
	if err := os.WriteFile(f.empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func testStackConfig(t *testing.T, dataDir string, workers int) app.Config {
	return app.Config{
		DataDir:    dataDir,
		HTTPAddr:   "127.0.0.1:0",
		NATSListen: "127.0.0.1:0",
		Workers:    workers,
		Logger:     testLogger(t),
	}
}

// cli runs a mediavec command line in-process and returns its stdout.
func cli(t *testing.T, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	if code != 0 {
		t.Logf("mediavec %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String(), code
}

func waitState(t *testing.T, ctx context.Context, api, videoID string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var line string
	for time.Now().Before(deadline) {
		out, code := cli(t, ctx, "status", "--api", api, videoID)
		if code == 0 {
			line = strings.SplitN(out, "\n", 2)[0]
			for _, w := range want {
				if strings.HasPrefix(line, w) {
					return line
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("video %s: state %q, want one of %v", videoID, line, want)
	return ""
}

func searchJSON(t *testing.T, ctx context.Context, api, query string, flags ...string) search.Response {
	t.Helper()
	out, code := cli(t, ctx, append([]string{"search", "--api", api, "--video", query, "--json"}, flags...)...)
	if code != 0 {
		t.Fatalf("search failed with exit %d", code)
	}
	var resp search.Response
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("search --json output is not JSON: %v\n%s", err, out)
	}
	return resp
}

// TestEndToEnd is the walking skeleton: the embedded stack indexes five real
// clips, finds clip 3 from a re-encoded copy with frame and audio evidence,
// fails broken uploads with a clear cause while going on with the rest, and
// survives a restart with its index and its queue intact.
func TestEndToEnd(t *testing.T) {
	ctx := t.Context()
	f := makeFixtures(t)
	data := filepath.Join(t.TempDir(), "data")

	// One worker, so the good clips queue behind the broken ones: the
	// worker must go on after each failure.
	s, err := app.Start(ctx, testStackConfig(t, data, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	out, code := cli(t, ctx, append([]string{"submit", "--nats", s.NATSURL(), f.truncated, f.empty}, f.good...)...)
	if code != 0 {
		t.Fatalf("submit: exit %d", code)
	}
	ids := strings.Fields(out)
	wantIDs := []string{"truncated", "empty", "clip1", "clip2", "clip3", "clip4", "clip5"}
	if strings.Join(ids, " ") != strings.Join(wantIDs, " ") {
		t.Fatalf("submit printed ids %v, want %v", ids, wantIDs)
	}

	for _, id := range wantIDs[2:] {
		waitState(t, ctx, s.HTTPURL(), id, "indexed")
	}
	for id, msg := range map[string]string{"truncated": "Invalid data", "empty": "file is empty"} {
		line := waitState(t, ctx, s.HTTPURL(), id, "failed")
		if !strings.HasPrefix(line, "failed: decode: ") || !strings.Contains(line, msg) {
			t.Errorf("status of %s = %q, want failed: decode: …%s…", id, line, msg)
		}
	}
	assertDeadLetters(t, ctx, s.JetStream(), map[string]string{"truncated": queue.CauseDecode, "empty": queue.CauseDecode})

	before := searchJSON(t, ctx, s.HTTPURL(), f.query, "--min-score", "0")
	assertClip3First(t, before)
	// With the default floor only the copy comes back: the other clips
	// are unrelated test patterns.
	if def := searchJSON(t, ctx, s.HTTPURL(), f.query); len(def.Results) != 1 || def.Results[0].VideoID != "clip3" || def.Below != 4 || def.Results[0].Score < 0.9 {
		t.Errorf("default floor: %d results (%d under it), want clip3 alone, scored ≥ 0.9", len(def.Results), def.Below)
	}
	// A query about nothing indexed (clip6, not submitted yet): no close
	// match in the table, every clip with --min-score 0.
	if out, code := cli(t, ctx, "search", "--api", s.HTTPURL(), "--video", f.late); code != 0 || !strings.HasPrefix(out, "no close match (5 under the floor") {
		t.Errorf("unrelated query: exit %d, printed %q, want \"no close match\" with 5 under the floor", code, out)
	}
	if all := searchJSON(t, ctx, s.HTTPURL(), f.late, "--min-score", "0"); len(all.Results) != 5 {
		t.Errorf("unrelated query with --min-score 0: %d results, want all 5 clips", len(all.Results))
	}
	// Every video was classified for content safety; none of these clips
	// is unsafe.
	for _, r := range before.Results {
		if r.Safety == nil || r.Safety.Unsafe || len(r.Safety.Max) != len(encoders.NSFWClasses) {
			t.Errorf("%s: safety %+v, want a safe verdict with every class", r.VideoID, r.Safety)
		}
	}

	// After a restart on the same data folder the same search answers the
	// same way.
	s.Close()
	s, err = app.Start(ctx, testStackConfig(t, data, 0))
	if err != nil {
		t.Fatalf("restart without workers: %v", err)
	}
	again := searchJSON(t, ctx, s.HTTPURL(), f.query, "--min-score", "0")
	if len(again.Results) != len(before.Results) {
		t.Fatalf("after restart %d results, before %d", len(again.Results), len(before.Results))
	}
	for i := range again.Results {
		b, a := before.Results[i], again.Results[i]
		if a.VideoID != b.VideoID || !closeScores(a.Spaces, b.Spaces) || math.Abs(a.Score-b.Score) > 1e-6 {
			t.Errorf("result %d after restart: %s %.4f %v, before: %s %.4f %v", i, a.VideoID, a.Score, a.Spaces, b.VideoID, b.Score, b.Spaces)
		}
	}

	// A job submitted while no worker runs survives a restart and is
	// processed after it.
	if _, code := cli(t, ctx, "submit", "--nats", s.NATSURL(), f.late); code != 0 {
		t.Fatal("submit clip6")
	}
	waitState(t, ctx, s.HTTPURL(), "clip6", "queued")
	s.Close()

	s, err = app.Start(ctx, testStackConfig(t, data, 2))
	if err != nil {
		t.Fatalf("restart with workers: %v", err)
	}
	t.Cleanup(s.Close)
	waitState(t, ctx, s.HTTPURL(), "clip6", "indexed")
	waitState(t, ctx, s.HTTPURL(), "clip3", "indexed")

	// clip6 joins the results; every other video keeps its similarities.
	after := searchJSON(t, ctx, s.HTTPURL(), f.query, "--min-score", "0")
	assertClip3First(t, after)
	spaces := map[string]map[string]float64{}
	for _, r := range after.Results {
		spaces[r.VideoID] = r.Spaces
	}
	if spaces["clip6"] == nil {
		t.Error("clip6 is not among the results")
	}
	for _, b := range before.Results {
		if !closeScores(spaces[b.VideoID], b.Spaces) {
			t.Errorf("%s: %v after clip6 was added, %v before", b.VideoID, spaces[b.VideoID], b.Spaces)
		}
	}
}

func closeScores(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if d := v - b[k]; d > 1e-4 || d < -1e-4 {
			return false
		}
	}
	return true
}

func assertClip3First(t *testing.T, resp search.Response) {
	t.Helper()
	if len(resp.Results) < 5 {
		t.Fatalf("got %d results, want all 5 clips: %+v", len(resp.Results), resp.Results)
	}
	top := resp.Results[0]
	if top.VideoID != "clip3" {
		t.Fatalf("top result is %s, want clip3; results: %+v", top.VideoID, resp.Results)
	}
	spaces := map[string]int{}
	for _, m := range top.Matches {
		spaces[m.Space]++
		if m.TEnd <= m.TStart || m.QueryTEnd <= m.QueryTStart {
			t.Errorf("match with an empty time range: %+v", m)
		}
	}
	if spaces[encoders.SpaceFrameDCT] == 0 || spaces[encoders.SpaceAudioSpeech] == 0 {
		t.Fatalf("clip3 has matches per space %v, want frame and audio evidence", spaces)
	}
	// A re-encode at half the resolution is still a near copy, frame by
	// frame: clearly above every other clip.
	if s := top.Spaces[encoders.SpaceFrameDCT]; s < 0.9 {
		t.Errorf("clip3 frame similarity %.3f, want ≥ 0.9", s)
	}
	for _, r := range resp.Results[1:] {
		if r.Spaces[encoders.SpaceFrameDCT] >= top.Spaces[encoders.SpaceFrameDCT]-0.2 {
			t.Errorf("%s frame similarity %.3f is too close to clip3's %.3f", r.VideoID, r.Spaces[encoders.SpaceFrameDCT], top.Spaces[encoders.SpaceFrameDCT])
		}
	}
	// Matching frames line up in time with the query.
	for _, m := range top.Matches {
		if m.Space == encoders.SpaceFrameDCT && m.Score > 0.95 && m.TStart != m.QueryTStart {
			t.Errorf("frame match %.1fs ↔ query %.1fs: want the same time", m.TStart, m.QueryTStart)
		}
	}
}

func assertDeadLetters(t *testing.T, ctx context.Context, js jetstream.JetStream, want map[string]string) {
	t.Helper()
	stream, err := js.Stream(ctx, queue.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	batch, err := cons.Fetch(len(want)+5, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		var dl queue.DeadLetter
		if err := json.Unmarshal(m.Data(), &dl); err != nil {
			t.Fatalf("dead letter is not JSON: %v", err)
		}
		job, err := queue.ParseJob(dl.Job)
		if err != nil {
			t.Fatalf("dead letter does not hold the original job: %v", err)
		}
		if m.Subject() != queue.SubjectDLQPrefix+dl.Cause {
			t.Errorf("dead letter on %s has cause %s", m.Subject(), dl.Cause)
		}
		if dl.Error == "" || dl.Attempts < 1 {
			t.Errorf("dead letter of %s lacks error or attempts: %+v", job.VideoID, dl)
		}
		got[job.VideoID] = dl.Cause
	}
	if len(got) != len(want) {
		t.Fatalf("dead letters %v, want %v", got, want)
	}
	for id, cause := range want {
		if got[id] != cause {
			t.Errorf("dead letter of %s has cause %q, want %q", id, got[id], cause)
		}
	}
}

// TestEndToEndOnQdrant runs the same pipeline against the Qdrant backend,
// over gRPC to the in-process Qdrant-protocol server: uploads are indexed,
// and video, near-duplicate and text queries through the CLI find them.
func TestEndToEndOnQdrant(t *testing.T) {
	ctx := t.Context()
	f := makeFixtures(t)
	cfg := testStackConfig(t, filepath.Join(t.TempDir(), "data"), 2)
	cfg.Qdrant = &qdrant.Config{Addr: qdranttest.Start(t), SkipCompatibilityCheck: true}
	s, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, code := cli(t, ctx, "submit", "--nats", s.NATSURL(), "--title", "Mandelbrot zoom in slow motion", f.good[2]); code != 0 {
		t.Fatal("submit clip3")
	}
	if _, code := cli(t, ctx, append([]string{"submit", "--nats", s.NATSURL()}, f.good[0], f.good[1], f.good[3], f.good[4])...); code != 0 {
		t.Fatal("submit")
	}
	for _, id := range []string{"clip1", "clip2", "clip3", "clip4", "clip5"} {
		waitState(t, ctx, s.HTTPURL(), id, "indexed")
	}
	assertClip3First(t, searchJSON(t, ctx, s.HTTPURL(), f.query, "--min-score", "0"))

	out, code := cli(t, ctx, "search", "--api", s.HTTPURL(), "--video", f.query, "--near-dups", "--json")
	if code != 0 {
		t.Fatal("near-duplicate search failed")
	}
	var dups search.Response
	if err := json.Unmarshal([]byte(out), &dups); err != nil {
		t.Fatal(err)
	}
	if len(dups.Results) == 0 || dups.Results[0].VideoID != "clip3" || dups.Results[0].Alignment == nil {
		t.Errorf("near-duplicates of the clip3 copy: %s", out)
	}
	out, code = cli(t, ctx, "search", "--api", s.HTTPURL(), "--text", "slow zoom", "--json")
	var text search.Response
	if code != 0 || json.Unmarshal([]byte(out), &text) != nil || len(text.Results) == 0 || text.Results[0].VideoID != "clip3" {
		t.Errorf("text search: exit %d: %s", code, out)
	}
	// The semantic space ranks every video with text; the words themselves
	// match clip3's title only.
	for _, r := range text.Results {
		if _, lexical := r.Spaces[encoders.SpaceTextLexical]; lexical != (r.VideoID == "clip3") {
			t.Errorf("text search: %s has lexical similarity %v", r.VideoID, r.Spaces)
		}
	}
	// The readable table names the winner too.
	if out, _ := cli(t, ctx, "search", "--api", s.HTTPURL(), "--text", "mandelbrot"); !strings.Contains(out, "clip3") {
		t.Errorf("table output: %s", out)
	}

	// DELETE removes the video from the index, its status with it.
	del := func() int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.HTTPURL()+"/v1/videos/clip3", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := del(); code != http.StatusOK {
		t.Fatalf("DELETE clip3: %d", code)
	}
	if code := del(); code != http.StatusNotFound {
		t.Errorf("DELETE clip3 again: %d, want 404", code)
	}
	if _, code := cli(t, ctx, "status", "--api", s.HTTPURL(), "clip3"); code == 0 {
		t.Error("a deleted video still has a status")
	}
	for _, q := range [][]string{{"--text", "mandelbrot zoom"}, {"--video", f.query}} {
		out, code := cli(t, ctx, append([]string{"search", "--api", s.HTTPURL(), "--json"}, q...)...)
		var resp search.Response
		if code != 0 || json.Unmarshal([]byte(out), &resp) != nil {
			t.Fatalf("search %v after the delete: exit %d: %s", q, code, out)
		}
		for _, r := range resp.Results {
			if r.VideoID == "clip3" {
				t.Errorf("search %v after the delete still finds clip3", q)
			}
		}
	}
}
