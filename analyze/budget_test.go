package analyze

import (
	"math"
	"testing"
	"time"

	"github.com/mediavec/mediavec/decode"
)

// fitBudget keeps every k-th frame of each costly stage for the smallest k
// that fits, down to one frame each, and counts what it skipped.
func TestFitBudget(t *testing.T) {
	const n = 60
	media := func() *decode.Media {
		m := &decode.Media{Info: decode.Info{Duration: n * time.Second}}
		for i := range n {
			m.Frames = append(m.Frames, decode.Frame{T: time.Duration(i) * time.Second, Images: []decode.Image{{Data: []byte{1}}, {Data: []byte{1}}, {Data: []byte{1}}}})
		}
		return m
	}
	p := &plan{stages: []planned{
		{stage: frameDCTStage{}, slots: []int{2}},
		{stage: &objectsStage{}, slots: []int{0}},
		{stage: &safetyStage{}, slots: []int{1}},
	}}
	// A minute of video whose decode took 1 s: 1 + 60·costOther + 60 frames
	// each through CenterNet and the safety model.
	full := 1 + n*costOther + n*(costCenterNet+costSafety)
	for _, tc := range []struct {
		limit   float64
		every   int // frames kept: every every-th
		met     bool
		skipped int
	}{
		{limit: 10, every: 1, met: true},
		{limit: 3, every: 3, met: true, skipped: 40},
		{limit: 0.5, every: n, met: false, skipped: n - 1},
	} {
		m := media()
		b := p.fitBudget(m, tc.limit, time.Second)
		if math.Abs(b.Full-full) > 1e-9 || b.Met != tc.met || b.Limit != tc.limit {
			t.Errorf("limit %v: %+v, want full %.3f, met %v", tc.limit, b, full, tc.met)
		}
		if b.Skipped["objects"] != tc.skipped || b.Skipped["safety"] != tc.skipped || b.Skipped["frame_dct"] != 0 {
			t.Errorf("limit %v: skipped %v, want %d of objects and of safety, none of frame_dct", tc.limit, b.Skipped, tc.skipped)
		}
		for i, f := range m.Frames {
			if kept := f.Images[0].Data != nil; kept != (i%tc.every == 0) || f.Images[2].Data == nil {
				t.Errorf("limit %v frame %d: CenterNet's image kept %v, frame_dct's %v", tc.limit, i, kept, f.Images[2].Data != nil)
				break
			}
		}
		if tc.met && b.Estimate > tc.limit || b.Estimate > b.Full {
			t.Errorf("limit %v: estimate %.3f of %.3f", tc.limit, b.Estimate, b.Full)
		}
	}
}
