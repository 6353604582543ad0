package worker

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/testmedia"
	"github.com/mediavec/mediavec/queue"
)

// A job over its compute budget is indexed with fewer CenterNet frames,
// and its status and indexed event say which frames were skipped; the same
// video without a budget is not thinned.
func TestBudgetThinsHeavyFramesAndSaysSo(t *testing.T) {
	t.Parallel()
	testAnalyzer(t) // the runtime, and the speech model
	cn, err := encoders.LoadCenterNet(encoders.DefaultModelsDir(), encoders.CenterNetConfig{}, encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { cn.Close() })
	a, err := analyze.New(analyze.Config{}, analyze.Models{Speech: speech, CenterNet: cn})
	if err != nil {
		t.Fatal(err)
	}
	h := setupWith(t, queue.Topology{MaxAttempts: 3}, a)
	h.run(t)
	ctx := t.Context()
	// Megamind cuts between shots every second or two: CenterNet sees
	// every sampled frame of it unless a budget says otherwise.
	src := queue.FileURL(filepath.Join(testmedia.OpenCV, "Megamind.avi"))
	spaces := []string{encoders.SpaceFrameCenterNet, encoders.SpaceAudioSpeech}
	heavy := func(id string) int {
		t.Helper()
		n, err := h.store.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{id}, Space: encoders.SpaceFrameCenterNet})
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	for _, job := range []queue.Job{
		{VideoID: "full", Source: src, Spaces: spaces},
		{VideoID: "budget", Source: src, Spaces: spaces, Budget: 1, Reprocess: true}, // the same bytes: not a duplicate here
	} {
		if _, err := queue.Submit(ctx, h.js, h.statuses, job, false); err != nil {
			t.Fatal(err)
		}
	}
	full := h.wait(t, "full", queue.StateIndexed)
	kept := h.wait(t, "budget", queue.StateIndexed)
	if full.Budget != nil {
		t.Errorf("no budget, yet the status says %+v", full.Budget)
	}
	b := kept.Budget
	if b == nil || b.Limit != 1 || b.Skipped["objects"] == 0 || b.Met || b.Estimate >= b.Full {
		t.Fatalf("status budget %+v, want objects frames skipped, the estimate lowered and the 1 CPU-s budget still not met", b)
	}
	nFull, nKept := heavy("full"), heavy("budget")
	if nFull < 8 || nKept != 1 || nFull-nKept != b.Skipped["objects"] {
		t.Errorf("frame_centernet_v1 points: %d without a budget, %d with (skipped %d); want at least 8, then one", nFull, nKept, b.Skipped["objects"])
	}
	if full.Spaces[encoders.SpaceAudioSpeech] != kept.Spaces[encoders.SpaceAudioSpeech] {
		t.Errorf("speech segments %d and %d: a budget thins frame models only", full.Spaces[encoders.SpaceAudioSpeech], kept.Spaces[encoders.SpaceAudioSpeech])
	}
	t.Logf("budget: %s", b.Line())

	// The indexed event says so too.
	s, err := h.js.Stream(ctx, queue.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{queue.SubjectIndexed}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("no indexed event of the budgeted job: %v", err)
		}
		var ev queue.Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.VideoID != "budget" {
			continue
		}
		if ev.Budget == nil || ev.Budget.Skipped["objects"] != b.Skipped["objects"] {
			t.Errorf("indexed event budget %+v, want the status's %+v", ev.Budget, b)
		}
		break
	}
}
