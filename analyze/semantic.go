package analyze

import (
	"context"
	"time"

	"github.com/mediavec/mediavec/encoders"
)

// semanticStage embeds the video's text by meaning in text_use_v1
// (Universal Sentence Encoder Lite): a segment for every text unit — the
// title over the whole video, every cue of the container's metadata and
// subtitles, every on-screen text, every run of an object label — all of
// a video's units in one call, which concurrent jobs share. A unit longer
// than the model reads is cut at its limit, and counted in Output.Cut.
type semanticStage struct{ enc *encoders.SentenceEncoder }

func (s semanticStage) Name() string { return "text_use" }

func (s semanticStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: encoders.SpaceTextUSE, Modality: "text", Dim: encoders.USEDim}}
}

func (s semanticStage) Loaded() bool { return s.enc != nil }

func (s semanticStage) Needs(r Request) (Needs, bool) {
	return Needs{Units: true}, r.Wants(encoders.SpaceTextUSE)
}

func (s semanticStage) Run(ctx context.Context, in *Input, out *Output) error {
	texts := make([]string, len(in.Units))
	for i, u := range in.Units {
		texts[i] = u.Text
	}
	sents, err := s.enc.Embed(ctx, texts)
	if err != nil {
		return err
	}
	ordinal := 0
	for i, u := range in.Units {
		if sents[i].Vector == nil {
			continue
		}
		if sents[i].Cut() {
			out.Cut++
		}
		end := u.End
		if end <= u.Start {
			end = max(in.Info.Duration, u.Start+time.Second)
		}
		out.Segments = append(out.Segments, Segment{
			Space: encoders.SpaceTextUSE, Modality: u.Modality, Ordinal: ordinal,
			Start: u.Start, End: end, Vector: sents[i].Vector, Text: u.Text, Words: u.Words, Confidence: u.Confidence,
		})
		ordinal++
	}
	return nil
}

// QueryText embeds a text query in text_use_v1, as a video's text is.
func (s semanticStage) QueryText(ctx context.Context, text string) ([]float32, error) {
	sents, err := s.enc.Embed(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return sents[0].Vector, nil
}
