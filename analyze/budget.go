package analyze

import (
	"time"

	"github.com/mediavec/mediavec/decode"
)

// Budget is what a compute budget did to an analysis (Options.Budget).
type Budget struct {
	// Limit is the budget, in CPU-seconds per minute of video.
	Limit float64 `json:"limit"`
	// Full is the analysis's estimated cost before any frame was skipped
	// for the budget, and Estimate after, in the same unit.
	Full     float64 `json:"full"`
	Estimate float64 `json:"estimate"`
	// Skipped counts, by stage, the frames it would have seen and did not.
	Skipped map[string]int `json:"skipped,omitempty"`
	// Met says the estimate is within the limit. A video over its budget
	// even with each costly model on one frame is analysed that way, with
	// every space still made.
	Met bool `json:"met"`
}

// A costlyStage runs a model on frames (those of its first image spec),
// at about FrameCost CPU-seconds a frame on one core. A budget thins its
// frames.
type costlyStage interface {
	FrameCost() float64
}

// The costs a budget estimates with, in CPU-seconds on one core of the
// 2-core development machine (`mediavec bench pipeline`'s figures per
// frame seen and per second of audio); a faster core makes the estimates
// err on the side of skipping. The decode is counted at what it took.
const (
	costCenterNet = 0.070  // a 512² frame through CenterNet
	costOCR       = 0.050  // a frame read: the detector at 640 wide, and the lines it finds
	costSafety    = 0.012  // a 224² frame through the safety model
	costSpeech    = 0.0115 // a second of audio: speech embeddings and VAD
	costOther     = 0.0025 // a second of video: frame_dct, thumbnails, text, fingerprints, the write
)

func (s *objectsStage) FrameCost() float64 { return costCenterNet }
func (s *ocrStage) FrameCost() float64     { return costOCR }
func (s *safetyStage) FrameCost() float64  { return costSafety }

// fitBudget thins the frames the costly stages see until the analysis's
// estimated cost fits limit (CPU-seconds per minute of video): every k-th
// frame each of them would have seen, the smallest k that fits, at least
// the first frame each. Frames a stage does not see are carried, as with
// HeavyChange: what it saw in a frame holds until the next it saw.
func (p *plan) fitBudget(media *decode.Media, limit float64, decodeTook time.Duration) *Budget {
	dur := media.Info.Duration.Seconds()
	if dur <= 0 {
		dur = 1
	}
	perMinute := 60 / dur
	fixed := decodeTook.Seconds() + costOther*dur
	if len(media.Audio.Samples) > 0 && media.Audio.SampleRate > 0 {
		for _, pl := range p.stages {
			if pl.needs.Audio && pl.stage.Name() == "speech" {
				fixed += costSpeech * float64(len(media.Audio.Samples)) / float64(media.Audio.SampleRate)
			}
		}
	}
	type heavy struct {
		name string
		slot int
		cost float64
		seen []int // frames with the stage's image
	}
	var hs []heavy
	for _, pl := range p.stages {
		c, ok := pl.stage.(costlyStage)
		if !ok || len(pl.slots) == 0 {
			continue
		}
		h := heavy{name: pl.stage.Name(), slot: pl.slots[0], cost: c.FrameCost()}
		for i, f := range media.Frames {
			if f.Images[h.slot].Data != nil {
				h.seen = append(h.seen, i)
			}
		}
		hs = append(hs, h)
	}
	estimate := func(k int) float64 {
		total := fixed
		for _, h := range hs {
			total += h.cost * float64((len(h.seen)+k-1)/k)
		}
		return total * perMinute
	}
	b := &Budget{Limit: limit, Full: estimate(1)}
	most := 1
	for _, h := range hs {
		most = max(most, len(h.seen))
	}
	k := 1
	for k < most && estimate(k) > limit {
		k++
	}
	b.Estimate, b.Met = estimate(k), estimate(k) <= limit
	if k == 1 {
		return b
	}
	b.Skipped = map[string]int{}
	for _, h := range hs {
		for j, i := range h.seen {
			if j%k != 0 {
				media.Frames[i].Images[h.slot].Data = nil
				b.Skipped[h.name]++
			}
		}
	}
	return b
}
