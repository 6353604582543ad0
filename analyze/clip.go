package analyze

import (
	"context"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// clipStage embeds every sampled frame in the space of one user-supplied
// CLIP-family model (clip_NAME), whose text tower answers text queries in
// the same space. The frames of concurrent jobs share the model's session
// calls.
type clipStage struct{ model *encoders.CLIPModel }

func (s clipStage) Name() string { return s.model.Space() }

func (s clipStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: s.model.Space(), Modality: "frame", Dim: s.model.Dim()}}
}

func (s clipStage) Loaded() bool { return true }

func (s clipStage) Needs(r Request) (Needs, bool) {
	// The shorter side at the model's input size: its own resize then
	// only crops.
	spec := decode.FrameSpec{ShortSide: s.model.Spec().ImageSize, Format: decode.RGB24}
	return Needs{Frames: []decode.FrameSpec{spec}}, r.Wants(s.model.Space())
}

func (s clipStage) Run(ctx context.Context, in *Input, out *Output) error {
	frames := in.Frames(0)
	vecs, err := s.model.Images(ctx, RGB(frames))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // cancelled or timed out: not the model's fault
		}
		return &encoders.Error{Model: s.model.Space(), Op: "embed frames", Err: err}
	}
	for i, f := range frames {
		out.Segments = append(out.Segments, Segment{Space: s.model.Space(), Modality: "frame", Ordinal: i, Start: f.Start, End: f.End, Vector: vecs[i]})
	}
	return nil
}

// QueryText embeds a text query with the model's text tower, into the
// space its frames are in.
func (s clipStage) QueryText(ctx context.Context, text string) ([]float32, error) {
	v, err := s.model.Texts(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return v[0], nil
}
