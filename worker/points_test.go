package worker

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
)

// TestPointsCarryLabels: a frame's object labels go into its segment's
// payload, the label summary into the video point, the status and the
// event.
func TestPointsCarryLabels(t *testing.T) {
	res := &analyze.Result{
		Segments: []analyze.Segment{
			{Space: encoders.SpaceFrameCenterNet, Modality: "frame", Ordinal: 0, End: time.Second, Vector: []float32{1, 0}, Labels: []string{"dog", "person"}},
			{Space: encoders.SpaceFrameCenterNet, Modality: "frame", Ordinal: 1, Start: time.Second, End: 2 * time.Second, Vector: []float32{0, 1}},
		},
		Objects: []analyze.ObjectCount{{Label: "person", Frames: 1, MaxScore: 0.8}, {Label: "dog", Frames: 1, MaxScore: 0.5}},
	}
	segs, video := Points(queue.Job{VideoID: "v1", Source: "file:///v1.mp4"}, res, time.Now())
	if len(segs) != 2 || !slices.Equal(segs[0].Payload.Labels, []string{"dog", "person"}) || segs[1].Payload.Labels != nil {
		t.Fatalf("segment labels: %v, %v", segs[0].Payload.Labels, segs[1].Payload.Labels)
	}
	if !slices.Equal(video.Payload.Labels, []string{"person", "dog"}) {
		t.Errorf("video labels %v, want the summary's order", video.Payload.Labels)
	}
	if got := labelSummary(res); got["person"] != 1 || got["dog"] != 1 || len(got) != 2 {
		t.Errorf("label summary %v", got)
	}
	if labelSummary(&analyze.Result{}) != nil {
		t.Error("a video without objects has a label summary")
	}
	f := index.Filter{Labels: []string{"dog"}}
	if !f.Match(&segs[0].Payload) || f.Match(&segs[1].Payload) {
		t.Error("a labels filter does not select the frame with the dog")
	}
}

// TestPointsCarrySafety: a frame's class probabilities go into its
// segment's payload by class name, the video's summary into the video
// point's scores, and the verdict onto every point, so a safe filter drops
// every segment of an unsafe video.
func TestPointsCarrySafety(t *testing.T) {
	probs := []float32{0.1, 0.05, 0.15, 0.6, 0.1}
	res := &analyze.Result{
		Segments: []analyze.Segment{
			{Space: encoders.SpaceFrameDCT, Modality: "frame", Ordinal: 0, End: time.Second, Vector: []float32{1, 0}, Safety: probs},
			{Space: encoders.SpaceTextLexical, Modality: "title", Sparse: &encoders.Sparse{Indices: []uint32{1}, Values: []float32{1}}},
		},
		Safety: &analyze.Safety{
			Frames: 1, UnsafeFrames: 1, Unsafe: true,
			Max:   map[string]float32{"Drawing": 0.1, "Hentai": 0.05, "Neutral": 0.15, "Porn": 0.6, "Sexy": 0.1},
			Share: map[string]float64{"Drawing": 0, "Hentai": 0, "Neutral": 0, "Porn": 1, "Sexy": 0},
		},
	}
	segs, video := Points(queue.Job{VideoID: "v1", Source: "file:///v1.mp4"}, res, time.Now())
	if p := segs[0].Payload.Safety; len(p) != 5 || math.Abs(p["porn"]-0.6) > 1e-6 || math.Abs(p["neutral"]-0.15) > 1e-6 {
		t.Errorf("frame segment safety %v", p)
	}
	if segs[1].Payload.Safety != nil {
		t.Errorf("a text segment carries frame probabilities: %v", segs[1].Payload.Safety)
	}
	v := video.Payload.Safety
	if math.Abs(v["porn_max"]-0.6) > 1e-6 || v["porn_share"] != 1 || v["unsafe_frames"] != 1 || v["frames"] != 1 || len(v) != 12 {
		t.Errorf("video safety scores %v", v)
	}
	f := index.Filter{ExcludeUnsafe: true}
	for _, p := range append(segs, video) {
		if !p.Payload.Unsafe || f.Match(&p.Payload) {
			t.Errorf("point %s: unsafe %v, kept by the safe filter", p.ID, p.Payload.Unsafe)
		}
	}
	if SafetyScores(nil) != nil {
		t.Error("an unclassified video has safety scores")
	}
}

// TestPointsCarryWordTimes: the word times of a caption shown a word at a
// time go into its segment's payload in seconds, text shown whole has
// none; the OCR's confidence goes with them.
func TestPointsCarryWordTimes(t *testing.T) {
	sv := &encoders.Sparse{Indices: []uint32{1}, Values: []float32{1}}
	res := &analyze.Result{Segments: []analyze.Segment{
		{Space: encoders.SpaceTextLexical, Modality: "ocr", End: 2 * time.Second, Sparse: sv, Text: "Wait for", Confidence: 0.5,
			Words: []analyze.TimedWord{{Text: "Wait", End: 2 * time.Second}, {Text: "for", Start: 1500 * time.Millisecond, End: 2 * time.Second}}},
		{Space: encoders.SpaceTextLexical, Modality: "ocr", Ordinal: 1, Start: 2 * time.Second, End: 3 * time.Second, Sparse: sv, Text: "BIG NEWS"},
	}}
	segs, _ := Points(queue.Job{VideoID: "v1", Source: "file:///v1.mp4"}, res, time.Now())
	want := []index.TimedWord{{Text: "Wait", TStart: 0, TEnd: 2}, {Text: "for", TStart: 1.5, TEnd: 2}}
	if !slices.Equal(segs[0].Payload.Words, want) || segs[1].Payload.Words != nil {
		t.Errorf("word times %+v and %+v, want %+v and none", segs[0].Payload.Words, segs[1].Payload.Words, want)
	}
	if segs[0].Payload.Confidence != 0.5 {
		t.Errorf("confidence %v, want the OCR's 0.5", segs[0].Payload.Confidence)
	}
}
