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
	"github.com/mediavec/mediavec/internal/testmedia"
)

// opencvData holds real media that no one here made (Debian's opencv-doc).
const opencvData = "/usr/share/doc/opencv-doc/examples/data"

// centerNetHarness is a harness whose analyzer also runs CenterNet.
func centerNetHarness(t *testing.T) *harness {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	c, err := encoders.LoadCenterNet(encoders.DefaultModelsDir(), encoders.CenterNetConfig{}, encoders.SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { c.Close() })
	a, err := analyze.New(analyze.Config{}, analyze.Models{CenterNet: c})
	if err != nil {
		t.Fatal(err)
	}
	return harnessWith(t, a)
}

// TestObjectsFindVideos indexes real photos and a street video next to
// generated test patterns, then searches by what is in them: the text
// "person" ranks vtest.avi first, "horse" the horse, labels filter, and a
// frame of vtest.avi finds vtest.avi in frame_centernet_v1.
func TestObjectsFindVideos(t *testing.T) {
	h := centerNetHarness(t)
	spaces := []string{encoders.SpaceFrameDCT, encoders.SpaceFrameCenterNet, encoders.SpaceTextLexical}
	h.Add("messi5", testmedia.Path(t, testmedia.OpenCV, "messi5.jpg"), "", spaces...)
	h.Add("horse", testmedia.Path(t, testmedia.SKImage(), "horse.png"), "", spaces...)
	h.Add("vtest", testmedia.Path(t, testmedia.OpenCV, "vtest.avi"), "", spaces...)
	dir := t.TempDir()
	for _, s := range clips.Standard()[:4] {
		h.Add(s.Name, clips.MakeT(t, dir, s), "", spaces...)
	}

	resp, err := h.searcher.Text(t.Context(), "person", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range resp.Results {
		order = append(order, r.VideoID)
	}
	t.Logf(`text "person": %v`, order)
	if len(order) == 0 || order[0] != "vtest" {
		t.Fatalf(`text "person" ranks %v; want vtest.avi first`, order)
	}
	// (A pattern may hold a weak false "person" in a frame or two; it
	// must rank below the video where people are there throughout.)
	if !slices.Contains(resp.Results[0].Labels, "person") {
		t.Errorf("vtest's labels %v lack person", resp.Results[0].Labels)
	}

	resp, err = h.searcher.Text(t.Context(), "horse", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].VideoID != "horse" {
		t.Errorf(`text "horse" ranks %+v; want horse.png first`, resp.Results)
	}

	// A labels filter keeps only frames where the object was seen.
	frame := h.frameVector(t, "vtest", encoders.SpaceFrameCenterNet)
	resp, err = h.searcher.Vector(t.Context(), encoders.SpaceFrameCenterNet, frame, Options{Filter: index.Filter{Labels: []string{"sports ball"}}, MinScore: noFloor})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.VideoID != "messi5" && r.VideoID != "vtest" {
			t.Errorf("labels: sports ball let through %s", r.VideoID)
		}
	}
	if !slices.ContainsFunc(resp.Results, func(r Result) bool { return r.VideoID == "messi5" }) {
		t.Errorf("labels: sports ball lost messi5: %+v", resp.Results)
	}

	// frame_centernet_v1: a frame of vtest.avi finds vtest.avi first.
	resp, err = h.searcher.Vector(t.Context(), encoders.SpaceFrameCenterNet, frame, Options{MinScore: noFloor})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) < 2 || resp.Results[0].VideoID != "vtest" {
		t.Fatalf("frame_centernet_v1 with a vtest frame ranks %+v", resp.Results)
	}

	// image→video through the query path: a JPEG of vtest.avi at 30.5 s
	// (between two sampled frames) finds vtest.avi in frame_centernet_v1.
	jpg := filepath.Join(dir, "vtest-30.5s.jpg")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-ss", "30.5", "-i", filepath.Join(opencvData, "vtest.avi"), "-frames:v", "1", "-q:v", "3", jpg).CombinedOutput(); err != nil {
		t.Fatalf("extract a frame: %v: %s", err, out)
	}
	f, err := os.Open(jpg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resp, err = h.searcher.Media(t.Context(), f, "vtest-30.5s.jpg", Options{Spaces: []string{encoders.SpaceFrameCenterNet}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].VideoID != "vtest" {
		t.Errorf("a JPEG of vtest.avi ranks %+v in frame_centernet_v1", resp.Results)
	}
}

// frameVector is the stored vector of a video's first segment in space.
func (h *harness) frameVector(t *testing.T, videoID, space string) []float32 {
	t.Helper()
	pts, err := h.Index.Get(t.Context(), index.Segments, index.SegmentID(videoID, space, 3))
	if err != nil || len(pts) == 0 || pts[0].Vectors[space] == nil {
		t.Fatalf("no segment 3 of %s in %s: %v", videoID, space, err)
	}
	return pts[0].Vectors[space]
}
