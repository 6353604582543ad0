package search

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/tinyclip"
)

// A CLIP-family model placed in the models folder becomes a space of its
// own: frames are embedded with its image tower, text queries with its
// text tower, and both reach the index and the fused results. The model
// here is internal/tinyclip's (per-channel colour means): it proves the
// plumbing, not retrieval quality.
func TestCLIPModelIsWiredThrough(t *testing.T) {
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	models := t.TempDir()
	shipped, err := os.ReadDir(encoders.DefaultModelsDir())
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	for _, e := range shipped {
		if err := os.Symlink(filepath.Join(encoders.DefaultModelsDir(), e.Name()), filepath.Join(models, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := tinyclip.WriteModelsDir(models, "tiny"); err != nil {
		t.Fatal(err)
	}
	set, err := encoders.LoadAll(models, encoders.SessionConfig{}, encoders.OCRConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	if len(set.CLIP) != 1 || set.CLIP[0].Space() != "clip_tiny" {
		t.Fatalf("loaded CLIP models: %v", set.CLIP)
	}
	a, err := analyze.New(analyze.Config{}, analyze.Models{CLIP: set.CLIP})
	if err != nil {
		t.Fatal(err)
	}
	info, ok := a.Space("clip_tiny")
	if !ok || info.Dim != tinyclip.Dim || info.Sparse {
		t.Fatalf("space clip_tiny: %+v %v", info, ok)
	}
	h := harnessWith(t, a)
	ix := h.Index
	dir := t.TempDir()
	red := clips.MakeT(t, dir, clips.Spec{Name: "red", Video: "color=c=0xd02020", Seconds: 3})
	blue := clips.MakeT(t, dir, clips.Spec{Name: "blue", Video: "color=c=0x2030c0", Seconds: 3})
	h.Add("red", red, "a photo of a cat", encoders.SpaceFrameDCT, encoders.SpaceTextLexical, "clip_tiny")
	h.Add("blue", blue, "", encoders.SpaceFrameDCT, encoders.SpaceTextLexical, "clip_tiny")
	if n, _ := ix.Count(t.Context(), index.Segments, index.Filter{Space: "clip_tiny"}); n != 6 {
		t.Errorf("%d clip_tiny segments, want one per sampled frame (6)", n)
	}

	// An image: the red still finds the red video first in the CLIP space
	// alone (the DCT of a flat colour says nothing).
	png := filepath.Join(dir, "red.png")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0xe01010:size=320x240", "-frames:v", "1", png).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, _ := os.Open(png)
	defer f.Close()
	resp, err := h.searcher.Media(t.Context(), f, "red.png", Options{Spaces: []string{"clip_tiny"}, MinScore: noFloor})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 2 || resp.Results[0].VideoID != "red" || resp.Results[0].Spaces["clip_tiny"] <= resp.Results[1].Spaces["clip_tiny"] {
		t.Errorf("image query in clip_tiny: %+v", resp.Results)
	}

	// Text: the lexical space and the CLIP text tower are fused.
	resp, err = h.searcher.Text(t.Context(), "cat photo", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].VideoID != "red" {
		t.Fatalf("text query: %+v", resp.Results)
	}
	spaces := map[string]bool{}
	for _, r := range resp.Results {
		for _, m := range r.Matches {
			spaces[m.Space] = true
		}
	}
	if !spaces["clip_tiny"] || !spaces[encoders.SpaceTextLexical] {
		t.Errorf("text query matched in %v, want clip_tiny and text_lexical_v1", spaces)
	}
}
