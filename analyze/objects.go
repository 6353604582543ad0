package analyze

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// objectsStage runs CenterNet on the sampled frames that show something
// new (Config.HeavyChange), each standing for the frames up to the next:
// frame_centernet_v1 (a learned frame embedding, one point per frame seen,
// spanning the frames it stands for) when asked for, and the COCO object
// labels of each frame, which also run for the text spaces. Each label
// believable in the video (labelRule) becomes a label of the frames it is
// seen in (on every frame segment sampled then), a line of the video's
// label summary, and a text unit for each run of consecutive frames it is
// seen in, counted once per sampled frame, so that a text query finds the
// videos where an object is there longest.
type objectsStage struct {
	model     *encoders.CenterNet
	maxFrames int
	change    float64 // Config.HeavyChange; 0 sees every sampled frame
	maxGap    time.Duration
	rule      labelRule
}

// labelRule says when a label is seen in a frame (minScore) and when it is
// believable in a video: its best frame at least sure, the frames it is
// seen in at least meanScore on average, and at least minFrames of them
// (or all the video has). A detector's single confident frame of a test
// pattern, or a label flickering at the detection floor for a whole
// static scene, is noise; a person seen clearly in a few frames is not.
type labelRule struct {
	minScore, sure, meanScore float32
	minFrames                 int
}

func (r labelRule) believable(seen []float32, frames int) bool {
	if len(seen) < min(r.minFrames, frames) {
		return false
	}
	var best, sum float32
	for _, s := range seen {
		best = max(best, s)
		sum += s
	}
	return best >= r.sure && sum/float32(len(seen)) >= r.meanScore
}

func (s *objectsStage) Name() string { return "objects" }

func (s *objectsStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: encoders.SpaceFrameCenterNet, Modality: "frame", Dim: encoders.CenterNetDim}}
}

func (s *objectsStage) Loaded() bool { return s.model != nil }

func (s *objectsStage) Needs(r Request) (Needs, bool) {
	// The whole frame squeezed to the model's square input (aspect ratio
	// not kept), as the reference implementation feeds it; at most
	// maxFrames of them, spread over the video.
	square := decode.FrameSpec{Width: encoders.CenterNetInput, Height: encoders.CenterNetInput, Format: decode.RGB24, MaxImages: s.maxFrames,
		Change: s.change, MaxGap: s.maxGap}
	return Needs{Frames: []decode.FrameSpec{square}}, r.Wants(encoders.SpaceFrameCenterNet) || r.Text
}

func (s *objectsStage) Run(ctx context.Context, in *Input, out *Output) error {
	frames := in.Frames(0)
	found, err := s.model.Frames(ctx, RGB(frames))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // cancelled or timed out: not the model's fault
		}
		return &encoders.Error{Model: encoders.ModelObjectsCenterNet, Op: "detect objects", Err: err}
	}
	embed := in.Request.Wants(encoders.SpaceFrameCenterNet)
	// Each label's best score in each sampled frame it is seen in: a
	// frame the model saw counts for those it stands for.
	scores := map[string][]float32{}
	perFrame := make([]map[string]float32, len(found))
	sampled := 0
	for k, fo := range found {
		perFrame[k] = map[string]float32{}
		for _, d := range fo.Detections {
			if d.Score >= s.rule.minScore {
				perFrame[k][d.Label] = max(perFrame[k][d.Label], d.Score)
			}
		}
		for l, sc := range perFrame[k] {
			for range frames[k].Stands {
				scores[l] = append(scores[l], sc)
			}
		}
		sampled += frames[k].Stands
	}
	counts := map[string]*ObjectCount{}
	for l, seen := range scores {
		if s.rule.believable(seen, sampled) {
			counts[l] = &ObjectCount{Label: l, Frames: len(seen), MaxScore: slices.Max(seen)}
		}
	}
	open := map[string]int{} // label → its unit in the run up to this frame
	out.Labels = map[time.Duration][]string{}
	for k, fo := range found {
		f := frames[k]
		var labels []string
		for l := range perFrame[k] {
			if counts[l] != nil {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		out.Labels[f.Start] = labels
		if embed {
			out.Segments = append(out.Segments, Segment{
				Space: encoders.SpaceFrameCenterNet, Modality: "frame", Ordinal: k,
				Start: f.Start, End: f.End, Vector: fo.Embedding,
			})
		}
		for _, l := range labels {
			if i, ok := open[l]; ok && out.Units[i].End == f.Start {
				out.Units[i].End = f.End
				out.Units[i].Times += f.Stands
				continue
			}
			open[l] = len(out.Units)
			out.Units = append(out.Units, TextUnit{Start: f.Start, End: f.End, Text: l, Modality: "objects", Times: f.Stands})
		}
	}
	for _, c := range counts {
		out.Objects = append(out.Objects, *c)
	}
	slices.SortFunc(out.Objects, func(x, y ObjectCount) int {
		return cmp.Or(cmp.Compare(y.Frames, x.Frames), cmp.Compare(y.MaxScore, x.MaxScore), strings.Compare(x.Label, y.Label))
	})
	return nil
}

// Labels lists the labels of a label summary, in its order.
func Labels(objects []ObjectCount) []string {
	out := make([]string, len(objects))
	for i, o := range objects {
		out[i] = o.Label
	}
	return out
}
