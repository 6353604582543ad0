package analyze

import (
	"context"
	"strings"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// ocrStage reads on-screen text for the text spaces. It reads every
// every-th sampled frame at width pixels wide, at most maxFrames of them
// spread over the video, skips a frame that looks like the last one read
// (the same titles or captions held on screen), and merges a text held
// over several reads into one unit.
type ocrStage struct {
	ocr                     *encoders.OCR
	every, width, maxFrames int
}

func (s *ocrStage) Name() string { return "ocr" }

// Spaces is empty: OCR feeds the text spaces.
func (s *ocrStage) Spaces() []SpaceInfo { return nil }

func (s *ocrStage) Loaded() bool { return s.ocr != nil }

func (s *ocrStage) Needs(r Request) (Needs, bool) {
	// At most maxFrames images, spread over the whole video: the memory
	// of a job stays bounded whatever its length.
	read := decode.FrameSpec{Width: s.width, Format: decode.RGB24, Every: s.every, MaxImages: s.maxFrames}
	return Needs{Frames: []decode.FrameSpec{read, greyFrame}}, r.Text
}

func (s *ocrStage) Run(ctx context.Context, in *Input, out *Output) error {
	var last []byte // grey image of the last frame read
	reads := 0
	for _, f := range in.Frames(0) {
		grey := in.Image(f, 1).Data
		if last != nil && !changed(last, grey) {
			// Unchanged: what was read last holds on.
			if n := len(out.Units); n > 0 && out.Units[n-1].End == f.Start {
				out.Units[n-1].End = f.End
			}
			continue
		}
		if reads == s.maxFrames {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		reads++
		last = grey
		lines, err := s.ocr.Read(f.Image.Data, f.Image.Spec.Width, f.Image.Spec.Height)
		if err != nil {
			return err
		}
		parts := make([]string, len(lines))
		for i, l := range lines {
			parts[i] = l.Text
		}
		text := strings.Join(parts, "\n")
		if text == "" {
			continue
		}
		// The same words read again, however the lines broke, are the
		// same text held on screen.
		if n := len(out.Units); n > 0 && out.Units[n-1].End == f.Start && sameWords(out.Units[n-1].Text, text) {
			out.Units[n-1].End = f.End
			continue
		}
		out.Units = append(out.Units, TextUnit{Start: f.Start, End: f.End, Text: text, Modality: "ocr", Times: 1})
	}
	return nil
}

// changed reports whether two 64×64 grey frames differ anywhere enough to
// hold different text: the largest mean absolute difference of their 8×8
// blocks is over 3 levels. A whole-frame mean would miss a caption that
// changes over a still background, which moves one block in twenty.
func changed(a, b []byte) bool {
	const side, block = encoders.FrameDCTInput, 8
	if len(a) != side*side || len(b) != side*side {
		return true
	}
	for by := 0; by < side; by += block {
		for bx := 0; bx < side; bx += block {
			sum := 0
			for y := by; y < by+block; y++ {
				for x := bx; x < bx+block; x++ {
					d := int(a[y*side+x]) - int(b[y*side+x])
					if d < 0 {
						d = -d
					}
					sum += d
				}
			}
			if sum > 3*block*block {
				return true
			}
		}
	}
	return false
}

// sameWords reports whether two readings hold the same words in the same
// order, whatever the line breaks and spacing between them.
func sameWords(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}
