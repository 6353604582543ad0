package analyze

import (
	"context"
	"strings"
	"time"

	"github.com/mediavec/mediavec/encoders"
)

// lexicalStage embeds the video's text in text_lexical_v1, the built-in
// sparse space: a segment for every text unit (the title, every cue of the
// container's metadata and subtitles, every on-screen text and object
// label run), and the video-level vector of all of them together.
type lexicalStage struct{ text encoders.TextLexical }

func (lexicalStage) Name() string { return "text_lexical" }

func (lexicalStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: encoders.SpaceTextLexical, Modality: "text", Sparse: true}}
}

func (lexicalStage) Loaded() bool { return true }

func (lexicalStage) Needs(r Request) (Needs, bool) {
	return Needs{Units: true}, r.Wants(encoders.SpaceTextLexical)
}

func (s lexicalStage) Run(ctx context.Context, in *Input, out *Output) error {
	var all []string
	for _, u := range in.Units {
		sv := s.text.EmbedRepeated(u.Text, u.Times)
		if len(sv.Indices) == 0 {
			continue
		}
		end := u.End
		if end <= u.Start {
			end = max(in.Info.Duration, u.Start+time.Second)
		}
		out.Segments = append(out.Segments, Segment{
			Space: encoders.SpaceTextLexical, Modality: u.Modality, Ordinal: len(all),
			Start: u.Start, End: end, Sparse: &sv, Text: u.Text, Words: u.Words, Confidence: u.Confidence,
		})
		all = append(all, u.Text)
	}
	if len(all) > 0 {
		out.PooledSparse = map[string]encoders.Sparse{encoders.SpaceTextLexical: s.text.Embed(strings.Join(all, "\n"))}
	}
	return nil
}
