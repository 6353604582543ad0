package analyze

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
)

// The plan runs the stages of the spaces asked for and the stages that feed
// them, and decodes only what they read, each image spec once.
func TestPlanChoosesStages(t *testing.T) {
	t.Parallel()
	a, err := New(Config{}, Models{OCR: &encoders.OCR{}})
	if err != nil {
		t.Fatal(err)
	}
	names := func(p *plan) []string {
		var out []string
		for _, pl := range p.stages {
			out = append(out, pl.stage.Name())
		}
		return out
	}
	for _, c := range []struct {
		name                     string
		opts                     Options
		stages                   []string
		frames                   int
		noVideo, noAudio, noText bool
	}{
		{"frames only", Options{Spaces: []string{encoders.SpaceFrameDCT}}, []string{"frame_dct"}, 1, false, true, true},
		// OCR feeds the text space; it compares frames by the same grey
		// image frame_dct_v1 embeds, which is converted once.
		{"frames and text", Options{Spaces: []string{encoders.SpaceFrameDCT, encoders.SpaceTextLexical}}, []string{"frame_dct", "ocr", "text_lexical"}, 2, false, true, false},
		{"text only", Options{Spaces: []string{encoders.SpaceTextLexical}}, []string{"ocr", "text_lexical"}, 2, false, true, false},
		{"thumbnails", Options{Spaces: []string{encoders.SpaceFrameDCT}, Thumbnails: true}, []string{"frame_dct", "thumbnails"}, 2, false, true, true},
	} {
		p, err := a.plan(c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := names(p); !slices.Equal(got, c.stages) {
			t.Errorf("%s: stages %v, want %v", c.name, got, c.stages)
		}
		if len(p.decode.Frames) != c.frames || p.decode.NoVideo != c.noVideo || p.decode.NoAudio != c.noAudio || p.decode.NoText != c.noText {
			t.Errorf("%s: decode %d images, no video %v, no audio %v, no text %v", c.name, len(p.decode.Frames), p.decode.NoVideo, p.decode.NoAudio, p.decode.NoText)
		}
	}
	if _, err := a.plan(Options{Spaces: []string{encoders.SpaceFrameCenterNet}}); err == nil || errors.Is(err, ErrUnknownSpace) {
		t.Errorf("a known space whose model is not loaded: %v, want a model error", err)
	}
	if got := a.Loaded(); slices.Contains(got, encoders.SpaceAudioSpeech) || !slices.Contains(got, encoders.SpaceTextLexical) {
		t.Errorf("loaded spaces %v", got)
	}
}

// failingStage stands for a model that fails on every run.
type failingStage struct{}

func (failingStage) Name() string { return "broken" }
func (failingStage) Spaces() []SpaceInfo {
	return []SpaceInfo{{Name: "broken_v1", Modality: "frame", Dim: 2}}
}
func (failingStage) Loaded() bool { return true }
func (failingStage) Needs(r Request) (Needs, bool) {
	return Needs{Frames: []decode.FrameSpec{greyFrame}}, r.Wants("broken_v1")
}
func (failingStage) Run(context.Context, *Input, *Output) error { return errors.New("session lost") }

// A stage's failure is the analysis's, typed as a model error naming the
// stage, whichever stages ran beside it; Around sees the decode and then
// each stage, one at a time.
func TestStageFailureAndAround(t *testing.T) {
	t.Parallel()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	a, err := New(Config{}, Models{})
	if err != nil {
		t.Fatal(err)
	}
	a.stages = append(a.stages, failingStage{})
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "a", Video: "testsrc2", Seconds: 2})
	_, err = a.Source(t.Context(), p, Options{Spaces: []string{encoders.SpaceFrameDCT, "broken_v1"}})
	var me *encoders.Error
	if !errors.As(err, &me) || me.Model != "broken" {
		t.Fatalf("a failing stage gave %v, want a model error of stage broken", err)
	}
	var seen []string
	res, err := a.Source(t.Context(), p, Options{Spaces: []string{encoders.SpaceFrameDCT, encoders.SpaceTextLexical}, Title: "x",
		Around: func(stage string, run func() error) error {
			seen = append(seen, stage)
			return run()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"decode", "frame_dct", "text_lexical"}; !slices.Equal(seen, want) {
		t.Errorf("Around saw %v, want %v", seen, want)
	}
	if c := res.Count(); c[encoders.SpaceFrameDCT] != 2 || c[encoders.SpaceTextLexical] != 1 {
		t.Errorf("segments %v", c)
	}
	for _, k := range []string{"decode", "frame_dct", "text_lexical", "encode"} {
		if _, ok := res.Timings[k]; !ok {
			t.Errorf("no %s timing in %v", k, res.Timings)
		}
	}
}

// The caller's title, caption and hashtags are each a text segment over
// the whole video, the hashtags together, before the container's cues.
func TestCallerText(t *testing.T) {
	t.Parallel()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	a, err := New(Config{}, Models{})
	if err != nil {
		t.Fatal(err)
	}
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "c", Video: "testsrc2", Seconds: 2, Title: "Container title"})
	res, err := a.Source(t.Context(), p, Options{Spaces: []string{encoders.SpaceTextLexical},
		Title: "Cat on a skateboard", Caption: "My cat learned a trick", Hashtags: []string{"cats", "#Skate", " "}})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, s := range res.Segments {
		texts = append(texts, s.Text)
		if s.Start != 0 || s.End != 2*time.Second {
			t.Errorf("%q spans %s–%s, want the whole video", s.Text, s.Start, s.End)
		}
	}
	if want := []string{"Cat on a skateboard", "My cat learned a trick", "#cats #Skate", "Container title"}; !slices.Equal(texts, want) {
		t.Errorf("text segments %q, want %q", texts, want)
	}
}

// Search lines fingerprint windows up in sub-fingerprints of
// encoders.AudioPrintHop, which must be the hop decode.Chromaprint makes.
func TestAudioPrintHopIsChromaprints(t *testing.T) {
	if encoders.AudioPrintHop != decode.ChromaprintHop {
		t.Fatalf("encoders.AudioPrintHop %v, decode.ChromaprintHop %v", encoders.AudioPrintHop, decode.ChromaprintHop)
	}
}
