package search

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/clips"
)

// TestSafeSearch: a real street video, classified by the real model with
// the unsafe threshold lowered until its frames count as explicit, is
// indexed as unsafe beside safe videos; every query type finds it without
// the safe filter and never with it, and results carry the safety summary.
func TestSafeSearch(t *testing.T) {
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	model, err := encoders.LoadSafety(encoders.DefaultModelsDir(), encoders.SafetyConfig{}, encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { model.Close() })
	safeA, err := analyze.New(analyze.Config{}, analyze.Models{Safety: model})
	if err != nil {
		t.Fatal(err)
	}
	// Every frame scores P(Porn)+P(Hentai) above 1e-12: all explicit.
	lowered, err := analyze.New(analyze.Config{UnsafeThreshold: 1e-12}, analyze.Models{Safety: model})
	if err != nil {
		t.Fatal(err)
	}
	h := harnessWith(t, safeA)
	dir := t.TempDir()
	street := filepath.Join(dir, "street.mp4")
	vtest := filepath.Join(opencvData, "vtest.avi")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", vtest, "-t", "12", "-c:v", "libx264", "-pix_fmt", "yuv420p", street).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (scripts/setup installs opencv-doc): %v: %s", err, out)
	}
	h.AddWith(lowered, "street", street, "Pedestrians crossing a street")
	for _, s := range clips.Standard()[:3] {
		h.Add(s.Name, clips.MakeT(t, dir, s), "Pedestrians on "+s.Name)
	}
	still := filepath.Join(dir, "street.png")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", "5", "-i", street, "-frames:v", "1", still).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	seg, err := h.Index.Get(t.Context(), index.Segments, index.SegmentID("street", encoders.SpaceFrameDCT, 5))
	if err != nil || len(seg) != 1 {
		t.Fatalf("the street's frame segment: %v %v", seg, err)
	}
	if !seg[0].Payload.Unsafe || seg[0].Payload.Safety["neutral"] == 0 {
		t.Fatalf("the street's frame segment is not marked unsafe with its class probabilities: %+v", seg[0].Payload)
	}

	type query func(safe bool) (Response, error)
	open := func(p string) *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	queries := map[string]query{
		"video": func(safe bool) (Response, error) {
			return h.searcher.Media(t.Context(), open(street), "street.mp4", Options{Safe: safe, MinScore: noFloor})
		},
		"image": func(safe bool) (Response, error) {
			return h.searcher.Media(t.Context(), open(still), "street.png", Options{Safe: safe, MinScore: noFloor})
		},
		"text": func(safe bool) (Response, error) {
			return h.searcher.Text(t.Context(), "pedestrians crossing", Options{Safe: safe, MinScore: noFloor})
		},
		"vector": func(safe bool) (Response, error) {
			return h.searcher.Vector(t.Context(), encoders.SpaceFrameDCT, seg[0].Vectors[encoders.SpaceFrameDCT], Options{Safe: safe, MinScore: noFloor})
		},
		"more like this": func(safe bool) (Response, error) {
			return h.searcher.Like(t.Context(), "clip1", Options{Safe: safe, MinScore: noFloor})
		},
		"near-duplicates": func(safe bool) (Response, error) {
			return h.searcher.NearDuplicates(t.Context(), open(street), "street.mp4", NearDupOptions{Safe: safe, Threshold: 1e-6})
		},
	}
	for name, q := range queries {
		ids := func(safe bool) []string {
			resp, err := q(safe)
			if err != nil {
				t.Fatalf("%s (safe %v): %v", name, safe, err)
			}
			var out []string
			for _, r := range resp.Results {
				out = append(out, r.VideoID)
				if r.VideoID == "street" && (r.Safety == nil || !r.Safety.Unsafe || r.Safety.Max["porn"] == 0) {
					t.Errorf("%s: the street's result carries safety %+v", name, r.Safety)
				}
			}
			return out
		}
		if got := ids(false); !slices.Contains(got, "street") {
			t.Errorf("%s without the filter: %v, want the street among them", name, got)
		}
		if got := ids(true); slices.Contains(got, "street") {
			t.Errorf("%s with the safe filter: %v, the street must be left out", name, got)
		}
	}
}
