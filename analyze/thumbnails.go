package analyze

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// ThumbKey names the thumbnail of the frame sampled at t seconds (a frame
// segment's t_start): t in milliseconds, rounded. Clients compute the same
// from a match's t_start: Math.round(t_start * 1000).
func ThumbKey(t float64) int64 { return int64(math.Round(t * 1000)) }

// ThumbWidth is the width of the JPEG thumbnails of sampled frames; the
// height keeps the video's aspect ratio.
const ThumbWidth = 192

// thumbnailStage encodes a JPEG of every sampled frame, when asked for:
// what search results show beside a matched time.
type thumbnailStage struct{}

func (thumbnailStage) Name() string { return "thumbnails" }

func (thumbnailStage) Spaces() []SpaceInfo { return nil }

func (thumbnailStage) Loaded() bool { return true }

func (thumbnailStage) Needs(r Request) (Needs, bool) {
	return Needs{Frames: []decode.FrameSpec{{Width: ThumbWidth, Format: decode.RGB24}}}, r.Thumbnails
}

func (thumbnailStage) Run(ctx context.Context, in *Input, out *Output) error {
	out.Thumbs = map[int64][]byte{}
	for _, f := range in.Frames(0) {
		b, err := encodeJPEG(f.Image.Data, f.Image.Spec.Width, f.Image.Spec.Height)
		if err != nil {
			return &encoders.Error{Model: "thumbnail", Op: "jpeg", Err: err}
		}
		out.Thumbs[ThumbKey(f.Start.Seconds())] = b
	}
	return nil
}

// encodeJPEG encodes packed RGB24 pixels.
func encodeJPEG(rgb []byte, w, h int) ([]byte, error) {
	if len(rgb) < w*h*3 {
		return nil, fmt.Errorf("%d bytes for %dx%d RGB", len(rgb), w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < w*h*3; i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = rgb[i], rgb[i+1], rgb[i+2], 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
