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

// viewFrame is the grey frame a copy query's views are cut from, its
// aspect kept: 144 rows for a landscape frame (256×144 at 16:9), so a
// picture in picture at 40 % is still about 100×58 pixels.
var viewFrame = decode.FrameSpec{ShortSide: 144, Format: decode.Gray}

func (frameDCTStage) Needs(r Request) (Needs, bool) {
	n := Needs{Frames: []decode.FrameSpec{greyFrame}}
	if r.CopyQuery {
		n.Frames = append(n.Frames, viewFrame)
	}
	return n, r.Wants(encoders.SpaceFrameDCT)
}

func (frameDCTStage) Run(ctx context.Context, in *Input, out *Output) error {
	enc := encoders.NewFrameDCT()
	for i, f := range in.Frames(0) {
		v, err := enc.Embed(f.Image.Data)
		if err != nil {
			return err
		}
		seg := Segment{
			Space: encoders.SpaceFrameDCT, Modality: "frame", Ordinal: i,
			Start: f.Start, End: f.End, Vector: v,
		}
		if in.Request.CopyQuery {
			im := in.Image(f, 1)
			if seg.Views, err = enc.Views(im.Data, im.Spec.Width, im.Spec.Height); err != nil {
				return err
			}
		}
		out.Segments = append(out.Segments, seg)
	}
	return nil
}
