package search

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/thumbs"
	"github.com/mediavec/mediavec/worker"
)

// harness is a searcher over an embedded index that videos are written to
// exactly as the worker writes them (worker.Points), without a queue.
type harness struct {
	t        *testing.T
	analyzer *analyze.Analyzer
	ix       *index.Embedded
	thumbs   *thumbs.Store
	searcher *Searcher
}

func newHarness(t *testing.T, withSpeech bool) *harness {
	t.Helper()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	var speech *encoders.Speech
	if withSpeech {
		if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
		var err error
		speech, err = encoders.LoadSpeech(encoders.DefaultModelsDir(), encoders.SessionConfig{})
		if err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
		t.Cleanup(func() { speech.Close() })
	}
	ix, err := index.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	segs, vids := worker.Schemas(analyze.BuiltinSpaces)
	if err := index.EnsureGeneration(t.Context(), ix, 1, segs, vids); err != nil {
		t.Fatal(err)
	}
	th, err := thumbs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := analyze.New(analyze.Config{}, analyze.Models{Speech: speech})
	return &harness{t: t, analyzer: a, ix: ix, thumbs: th, searcher: NewSearcher(a, ix)}
}

// add indexes the file at path as videoID in the given spaces (the frame
// and text spaces when none are given, which need no model).
func (h *harness) add(videoID, path, title string, spaces ...string) {
	h.t.Helper()
	if len(spaces) == 0 {
		spaces = []string{encoders.SpaceFrameDCT, encoders.SpaceTextLexical}
	}
	ctx := h.t.Context()
	res, err := h.analyzer.Source(ctx, path, analyze.Options{Spaces: spaces, Title: title, Thumbnails: true})
	if err != nil {
		h.t.Fatalf("analyse %s: %v", path, err)
	}
	job := queue.Job{VideoID: videoID, Source: queue.FileURL(path)}
	if title != "" {
		job.Text = &queue.JobText{Title: title}
	}
	segs, video := worker.Points(job, res, time.Now().UTC())
	if err := h.thumbs.Replace(videoID, res.Thumbs); err != nil {
		h.t.Fatal(err)
	}
	if err := h.ix.ReplaceVideo(ctx, index.Segments, videoID, segs); err != nil {
		h.t.Fatal(err)
	}
	if err := h.ix.ReplaceVideo(ctx, index.Videos, videoID, []index.Point{video}); err != nil {
		h.t.Fatal(err)
	}
}

// serve runs the API over the harness's index.
func (h *harness) serve(token string, maxUpload int64) *httptest.Server {
	api := &API{Searcher: h.searcher, Thumbs: h.thumbs, Token: token, MaxUpload: maxUpload}
	srv := httptest.NewServer(api.Handler())
	h.t.Cleanup(srv.Close)
	return srv
}
