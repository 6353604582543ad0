package worker

import (
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
