package analyze

import (
	"context"
	"time"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/vecmath"
)

// speechStage embeds the audio track in audio_speech_v1: the speech
// embeddings whose window starts inside each segment of the configured
// length (one window every Config.SpeechEvery model steps) are pooled into
// one vector, which carries the share of the
// segment that is speech when the VAD model is loaded.
type speechStage struct {
	speech  *encoders.Speech
	vad     *encoders.VAD // optional
	segment time.Duration
	every   int // Config.SpeechEvery
}

func (s *speechStage) Name() string { return "speech" }

func (s *speechStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: encoders.SpaceAudioSpeech, Modality: "audio", Dim: encoders.SpeechDim}}
}

func (s *speechStage) Loaded() bool { return s.speech != nil }

func (s *speechStage) Needs(r Request) (Needs, bool) {
	return Needs{Audio: true}, r.Wants(encoders.SpaceAudioSpeech)
}

func (s *speechStage) Run(ctx context.Context, in *Input, out *Output) error {
	embs, err := s.speech.EmbedEvery(ctx, in.Audio, s.every)
	if err != nil {
		return err
	}
	var probs []encoders.SpeechProb
	if s.vad != nil {
		if probs, err = s.vad.Probabilities(ctx, in.Audio); err != nil {
			return err
		}
	}
	audioEnd := time.Duration(float64(len(in.Audio)) / float64(encoders.SpeechRate) * float64(time.Second))
	var cur [][]float32
	idx := -1
	flush := func() {
		if len(cur) == 0 {
			return
		}
		start := time.Duration(idx) * s.segment
		end := min(start+s.segment, audioEnd)
		seg := Segment{
			Space: encoders.SpaceAudioSpeech, Modality: "audio", Ordinal: idx,
			Start: start, End: end, Vector: vecmath.MeanNormalized(cur),
		}
		if probs != nil {
			seg.Speech = encoders.MeanProb(probs, start, end)
		}
		out.Segments = append(out.Segments, seg)
		cur = cur[:0]
	}
	for _, e := range embs {
		if k := int(e.Start / s.segment); k != idx {
			flush()
			idx = k
		}
		cur = append(cur, e.Vector)
	}
	flush()
	return nil
}
