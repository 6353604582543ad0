package analyze

import (
	"context"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// audioPrintStage fingerprints the audio track with Chromaprint (FFmpeg's
// chromaprint muxer) into audio_print_v1: a window of about 2 s every
// second, so a soundtrack reused under other pictures is found and lined
// up. The speech embedding says what is said, not which recording it is.
type audioPrintStage struct{}

func (audioPrintStage) Name() string { return "audio_print" }

func (audioPrintStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: encoders.SpaceAudioPrint, Modality: "audio", Dim: encoders.AudioPrintDim}}
}

func (audioPrintStage) Loaded() bool { return true }

func (audioPrintStage) Needs(r Request) (Needs, bool) {
	return Needs{Audio: true}, r.Wants(encoders.SpaceAudioPrint)
}

func (audioPrintStage) Run(ctx context.Context, in *Input, out *Output) error {
	if len(in.Audio) == 0 {
		return nil
	}
	fp, err := decode.Chromaprint(ctx, in.Audio, encoders.SpeechRate)
	if err != nil {
		return err
	}
	stride := encoders.AudioPrintStride
	if in.Request.CopyQuery {
		stride = 1
	}
	hop := func(n int) time.Duration {
		return time.Duration(float64(n) * decode.ChromaprintHop * float64(time.Second))
	}
	for i, w := range encoders.AudioPrints(fp, in.Audio, encoders.SpeechRate, stride) {
		out.Segments = append(out.Segments, Segment{
			Space: encoders.SpaceAudioPrint, Modality: "audio", Ordinal: i,
			Start: hop(w.Start), End: hop(w.Start + encoders.AudioPrintWindow), Vector: w.Vector,
		})
	}
	return nil
}
