package analyze

import (
	"context"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// greyFrame is the 64×64 grey image of a sampled frame: frame_dct_v1's
// input, and what OCR compares frames by to skip those that did not
// change.
var greyFrame = decode.FrameSpec{Width: encoders.FrameDCTInput, Height: encoders.FrameDCTInput, Format: decode.Gray}

// frameDCTStage embeds every sampled frame in frame_dct_v1, the built-in
// perceptual descriptor (no model to load).
type frameDCTStage struct{}

func (frameDCTStage) Name() string { return "frame_dct" }

func (frameDCTStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: encoders.SpaceFrameDCT, Modality: "frame", Dim: encoders.FrameDCTDim}}
}

func (frameDCTStage) Loaded() bool { return true }

func (frameDCTStage) Needs(r Request) (Needs, bool) {
	return Needs{Frames: []decode.FrameSpec{greyFrame}}, r.Wants(encoders.SpaceFrameDCT)
}

func (frameDCTStage) Run(ctx context.Context, in *Input, out *Output) error {
	enc := encoders.NewFrameDCT()
	for i, f := range in.Frames(0) {
		v, err := enc.Embed(f.Image.Data)
		if err != nil {
			return err
		}
		out.Segments = append(out.Segments, Segment{
			Space: encoders.SpaceFrameDCT, Modality: "frame", Ordinal: i,
			Start: f.Start, End: f.End, Vector: v,
		})
	}
	return nil
}
