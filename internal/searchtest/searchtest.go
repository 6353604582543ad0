// Package searchtest is the fixture of the search and API tests: videos
// indexed into an embedded index exactly as the worker writes them
// (worker.Points), without a queue, by an analyzer with the models that
// need no GPU and little time to load.
//
// Those packages sit below the assembly point (internal/app imports them),
// so their tests build the parts they test with here rather than through
// it.
package searchtest

import (
	"testing"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
	"github.com/mediavec/mediavec/worker"
)

// Harness is an embedded index with generation 1 of both collections, a
// thumbnail store, and the analyzer that fills them.
type Harness struct {
	t        *testing.T
	Analyzer *analyze.Analyzer
	Index    *embedded.Index
	Thumbs   *thumbs.Store
}

// New returns a harness whose analyzer has the built-in spaces, and the
// speech model when withSpeech is set. Everything is removed when the test
// ends.
func New(t *testing.T, withSpeech bool) *Harness {
	t.Helper()
	var m analyze.Models
	if withSpeech {
		if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
		speech, err := encoders.LoadSpeech(encoders.DefaultModelsDir(), encoders.SessionConfig{})
		if err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
		t.Cleanup(func() { speech.Close() })
		m.Speech = speech
	}
	a, err := analyze.New(analyze.Config{}, m)
	if err != nil {
		t.Fatal(err)
	}
	return WithAnalyzer(t, a)
}

// WithAnalyzer returns a harness over an analyzer the test made.
func WithAnalyzer(t *testing.T, a *analyze.Analyzer) *Harness {
	t.Helper()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	ix, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	segs, vids := worker.Schemas(a.Spaces())
	if err := index.EnsureGeneration(t.Context(), ix, 1, segs, vids); err != nil {
		t.Fatal(err)
	}
	th, err := thumbs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{t: t, Analyzer: a, Index: ix, Thumbs: th}
}

// Add indexes the file at path as videoID in the given spaces (the frame
// and text spaces when none are given, which need no model), with its
// thumbnails and, when the analyzer has the model, its content safety.
func (h *Harness) Add(videoID, path, title string, spaces ...string) {
	h.t.Helper()
	h.AddWith(h.Analyzer, videoID, path, title, spaces...)
}

// AddWith is Add through another analyzer (one configured otherwise).
func (h *Harness) AddWith(a *analyze.Analyzer, videoID, path, title string, spaces ...string) {
	h.t.Helper()
	if len(spaces) == 0 {
		spaces = []string{encoders.SpaceFrameDCT, encoders.SpaceTextLexical}
	}
	ctx := h.t.Context()
	res, err := a.Source(ctx, path, analyze.Options{Spaces: spaces, Title: title, Thumbnails: true, Safety: true})
	if err != nil {
		h.t.Fatalf("analyse %s: %v", path, err)
	}
	job := queue.Job{VideoID: videoID, Source: queue.FileURL(path)}
	if title != "" {
		job.Text = &queue.JobText{Title: title}
	}
	segs, video := worker.Points(job, res, time.Now().UTC())
	if err := h.Thumbs.Replace(videoID, res.Thumbs); err != nil {
		h.t.Fatal(err)
	}
	if err := h.Index.ReplaceVideo(ctx, index.Segments, videoID, segs); err != nil {
		h.t.Fatal(err)
	}
	var videos []index.Point
	if len(video.Vectors) > 0 || len(video.Sparse) > 0 {
		videos = append(videos, video) // none when nothing was embedded, as the worker writes
	}
	if err := h.Index.ReplaceVideo(ctx, index.Videos, videoID, videos); err != nil {
		h.t.Fatal(err)
	}
}
