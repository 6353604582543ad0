package analyze

import (
	"context"
	"slices"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// A Stage is one model's or one modality's part of an analysis: it says
// what it needs from the decode, and turns the decoded media into segments
// (and whatever else it contributes: text units, object labels,
// thumbnails). A new model is one new Stage in its own file and one line
// in New.
//
// The analyzer chooses the stages an analysis needs, decodes the source
// once for all of them, runs them side by side and merges their outputs in
// the order they were registered. Stages run in two phases: those that
// read text units (Needs.Units: the text spaces) run after the others, and
// read every unit those made (on-screen text, object labels) together with
// the title and the container's text.
type Stage interface {
	// Name names the stage in timings, metrics and errors.
	Name() string
	// Spaces are the spaces the stage embeds into; none for a stage that
	// only feeds others (OCR feeds the text spaces).
	Spaces() []SpaceInfo
	// Loaded reports whether the stage's models are loaded. A job that
	// asks for one of the spaces of a stage that is not loaded fails.
	Loaded() bool
	// Needs says whether the stage runs for r, and what it needs from
	// the decode when it does. A stage that is not loaded does not run.
	Needs(r Request) (Needs, bool)
	// Run computes the stage's part of the result. It must write segments
	// only of spaces r asked for, and stop when ctx is done.
	Run(ctx context.Context, in *Input, out *Output) error
}

// Request is what one analysis asks for, as the stages see it.
type Request struct {
	// Spaces are the spaces asked for.
	Spaces []string
	// Text is set when a text space is asked for: the stages that make
	// text units (OCR, object labels) run for it.
	Text bool
	// Thumbnails asks for a JPEG of every sampled frame.
	Thumbnails bool
	// Safety asks for the content-safety classification of frames.
	Safety bool
	// CopyQuery asks for what a copy query compares (Options.CopyQuery).
	CopyQuery bool
	// Title, Caption and Hashtags are the caller's text about the video.
	Title    string
	Caption  string
	Hashtags []string
}

// Wants reports whether space is asked for.
func (r Request) Wants(space string) bool { return slices.Contains(r.Spaces, space) }

// Needs is what a stage needs from the decode.
type Needs struct {
	// Frames are the images of sampled frames the stage reads: the i-th
	// as Input.Frames(i). Stages that ask for the same spec share one
	// conversion.
	Frames []decode.FrameSpec
	// Audio asks for the audio track, mono, at encoders.SpeechRate.
	Audio bool
	// Units makes the stage read text units (Input.Units): it runs in the
	// second phase, and the container's text (subtitles, metadata) is
	// decoded for it.
	Units bool
}

// TextUnit is one piece of a video's text and when it is there.
type TextUnit struct {
	Start, End time.Duration
	Text       string
	// Modality is "text" (the title, container metadata, subtitles),
	// "ocr" (on-screen text) or "objects" (object labels).
	Modality string
	// Times is how often the text counts: an object label counts once per
	// sampled frame it was seen in, over its run of frames.
	Times int
	// Confidence is how sure the OCR is of on-screen text: the mean of its
	// lines' confidences over its words, in [0, 1]; 0 for other text.
	Confidence float32
	// Words are the words of a caption that came on screen a word or a
	// phrase at a time, each with the time it was on screen (at the
	// resolution of the frames read); nil for text shown whole.
	Words []TimedWord
}

// TimedWord is one word of on-screen text and when it was on screen.
type TimedWord struct {
	Text       string
	Start, End time.Duration
}

// Input is what a stage reads.
type Input struct {
	Request Request
	Info    decode.Info
	// Audio is the audio track (Needs.Audio), mono at encoders.SpeechRate.
	Audio []float32
	// Units are the video's texts, by start time (Needs.Units): the title,
	// the container's cues and the units of the first phase's stages.
	Units []TextUnit

	media *decode.Media
	slots []int // the media image of each of the stage's Needs.Frames
}

// Frame is one sampled frame as a stage sees it: the stage's image of it,
// and the time it stands for, from when it was sampled to the next frame
// that carries the same image (or the end of the video; a second when the
// video gives no later time).
type Frame struct {
	Start, End time.Duration
	Image      decode.Image
	// Stands is how many sampled frames this one stands for: itself and
	// those after it, up to the next that carries the image. A stage
	// whose spec skips frames (decode.FrameSpec Every or Change) counts
	// what it saw in a frame Stands times, as if it had seen each.
	Stands int
	index  int // in media.Frames
}

// Frames returns the sampled frames that carry the stage's i-th image
// (Needs.Frames[i]), in time order.
func (in *Input) Frames(i int) []Frame {
	slot := in.slots[i]
	var out []Frame
	for k, f := range in.media.Frames {
		if im := f.Images[slot]; im.Data != nil {
			out = append(out, Frame{Start: f.T, Image: im, index: k})
		}
	}
	for k := range out {
		end, next := in.Info.Duration, len(in.media.Frames)
		if k+1 < len(out) {
			end, next = out[k+1].Start, out[k+1].index
		}
		out[k].Stands = next - out[k].index
		if end <= out[k].Start {
			end = out[k].Start + time.Second
		}
		out[k].End = end
	}
	return out
}

// RGB returns the images of frames (RGB24 specs) as encoders take them.
func RGB(frames []Frame) []encoders.Image {
	out := make([]encoders.Image, len(frames))
	for i, f := range frames {
		out[i] = encoders.Image{RGB: f.Image.Data, Width: f.Image.Spec.Width, Height: f.Image.Spec.Height}
	}
	return out
}

// Image returns the stage's j-th image (Needs.Frames[j]) of the sampled
// frame f; its Data is nil when that spec skipped the frame.
func (in *Input) Image(f Frame, j int) decode.Image {
	return in.media.Frames[f.index].Images[in.slots[j]]
}

// Output is what a stage contributes to the result.
type Output struct {
	Segments []Segment
	// Units are texts for the text spaces (on-screen text, object labels).
	Units []TextUnit
	// Labels are the object labels seen in the frame sampled at a time:
	// every frame segment sampled then carries them.
	Labels map[time.Duration][]string
	// Objects is the video's label summary.
	Objects []ObjectCount
	// Thumbs are JPEGs of sampled frames by ThumbKey.
	Thumbs map[int64][]byte
	// PooledSparse is the video-level vector of a sparse space.
	PooledSparse map[string]encoders.Sparse
	// Cut counts the texts that were longer than the stage's model reads
	// and were embedded cut at its limit.
	Cut int
	// Probs are the content-safety class probabilities of the frame
	// sampled at a time: every frame segment sampled then carries them.
	Probs map[time.Duration][]float32
	// Safety is the video's content-safety summary.
	Safety *Safety
}

// A TextQuerier is a stage whose space a text query searches: it embeds
// the query's words in its space, as it embeds a video's text (the
// sentence encoder) or into an image–text space (CLIP's text tower). A nil
// vector means the query has nothing for it.
type TextQuerier interface {
	QueryText(ctx context.Context, text string) ([]float32, error)
}
