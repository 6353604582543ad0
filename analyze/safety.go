package analyze

import (
	"context"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// ClassShareThreshold is the probability from which a frame counts as
// showing a class, for Safety.Share.
const ClassShareThreshold = 0.5

// Safety is a video's content-safety summary (safety_nsfwjs_v1).
type Safety struct {
	// Frames is how many sampled frames the classification covers: each
	// frame the model saw counts for those sampled up to the next one it
	// saw (analyze.Config.HeavyChange).
	Frames int `json:"frames"`
	// Max is each class's highest probability over those frames.
	Max map[string]float32 `json:"max"`
	// Share is, per class, the share of those frames whose probability of
	// it is at least ClassShareThreshold.
	Share map[string]float64 `json:"share"`
	// UnsafeFrames is how many of those frames were explicit: P(Porn) +
	// P(Hentai) at least Config.UnsafeThreshold.
	UnsafeFrames int `json:"unsafe_frames"`
	// Unsafe says the video is not safe to show: at least
	// Config.UnsafeShare of its classified frames are explicit, and at
	// least one.
	Unsafe bool `json:"unsafe"`
}

// safetyStage classifies sampled frames with nsfwjs's MobileNetV2 for
// content safety (each frame segment sampled then carries the five class
// probabilities; the video gets a Safety summary), and embeds them in
// frame_mobilenet_v1, the pooled features of the same session call, when
// that space is asked for.
type safetyStage struct {
	model                        *encoders.SafetyModel
	maxFrames                    int
	change                       float64 // Config.HeavyChange
	maxGap                       time.Duration
	unsafeThreshold, unsafeShare float64
}

func (s *safetyStage) Name() string { return "safety" }

func (s *safetyStage) Spaces() []SpaceInfo {
	// Optional: on real photos of eight categories CenterNet's embedding
	// retrieves the same category better (TestFrameSpaceCategories), so
	// frame_centernet_v1 is the default frame space and this one is made
	// only when asked for.
	return []SpaceInfo{{Name: encoders.SpaceFrameMobileNet, Modality: "frame", Dim: encoders.MobileNetDim, Optional: true}}
}

func (s *safetyStage) Loaded() bool { return s.model != nil }

func (s *safetyStage) Needs(r Request) (Needs, bool) {
	// The whole frame squeezed to the model's square input, as nsfwjs
	// resizes whatever image it is given.
	square := decode.FrameSpec{Width: encoders.NSFWInput, Height: encoders.NSFWInput, Format: decode.RGB24, MaxImages: s.maxFrames,
		Change: s.change, MaxGap: s.maxGap}
	return Needs{Frames: []decode.FrameSpec{square}}, r.Safety || r.Wants(encoders.SpaceFrameMobileNet)
}

func (s *safetyStage) Run(ctx context.Context, in *Input, out *Output) error {
	frames := in.Frames(0)
	res, err := s.model.Frames(ctx, RGB(frames))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	embed := in.Request.Wants(encoders.SpaceFrameMobileNet)
	if embed {
		for k, fs := range res {
			f := frames[k]
			out.Segments = append(out.Segments, Segment{
				Space: encoders.SpaceFrameMobileNet, Modality: "frame", Ordinal: k,
				Start: f.Start, End: f.End, Vector: fs.Features,
			})
		}
	}
	if !in.Request.Safety {
		return nil
	}
	sum := &Safety{Max: map[string]float32{}, Share: map[string]float64{}}
	for _, name := range encoders.NSFWClasses {
		sum.Max[name], sum.Share[name] = 0, 0
	}
	out.Probs = map[time.Duration][]float32{}
	for k, fs := range res {
		// A frame the model saw counts for the sampled frames it stands
		// for (the same picture, or nearly).
		n := frames[k].Stands
		sum.Frames += n
		out.Probs[frames[k].Start] = fs.Probs[:]
		for c, name := range encoders.NSFWClasses {
			sum.Max[name] = max(sum.Max[name], fs.Probs[c])
			if fs.Probs[c] >= ClassShareThreshold {
				sum.Share[name] += float64(n)
			}
		}
		if float64(fs.Probs[encoders.ClassPorn]+fs.Probs[encoders.ClassHentai]) >= s.unsafeThreshold {
			sum.UnsafeFrames += n
		}
	}
	if sum.Frames > 0 {
		for name := range sum.Share {
			sum.Share[name] /= float64(sum.Frames)
		}
		sum.Unsafe = sum.UnsafeFrames > 0 && float64(sum.UnsafeFrames) >= s.unsafeShare*float64(sum.Frames)
	}
	out.Safety = sum
	return nil
}
