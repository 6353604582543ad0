package encoders

import (
	"context"
	"image"
	"testing"
)

// Go benchmarks of each encoder with everything it does; `mediavec bench
// encoders` prints them beside bare session calls on the same tensors.

func BenchmarkSpeechEmbed10s(b *testing.B) {
	if err := InitRuntime(DefaultORTLib()); err != nil {
		b.Fatal(err)
	}
	s, err := LoadSpeech(DefaultModelsDir(), SessionConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	samples := benchTone(10)
	b.ReportAllocs()
	windows := 0
	for b.Loop() {
		embs, err := s.Embed(b.Context(), samples)
		if err != nil {
			b.Fatal(err)
		}
		windows += len(embs)
	}
	b.ReportMetric(float64(windows)/b.Elapsed().Seconds(), "windows/s")
}

func BenchmarkVAD10s(b *testing.B) {
	if err := InitRuntime(DefaultORTLib()); err != nil {
		b.Fatal(err)
	}
	v, err := LoadVAD(DefaultModelsDir(), SessionConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	samples := benchTone(10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Probabilities(context.Background(), samples); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(samples)/VADChunk)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkOCR(b *testing.B) {
	if err := InitRuntime(DefaultORTLib()); err != nil {
		b.Fatal(err)
	}
	o, err := LoadOCR(DefaultModelsDir(), OCRConfig{}, SessionConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	rgb, w, h := renderText(b, "color=c=black", drawtext("Subscribe for more videos", 32, "white", ""), 640, 360)
	var boxes []image.Rectangle
	b.Run("detect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if boxes, err = o.detect(rgb, w, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("recognize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.recognize(rgb, w, h, boxes); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFrameDCT(b *testing.B) {
	enc := NewFrameDCT()
	img := make([]byte, FrameDCTInput*FrameDCTInput)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Embed(img); err != nil {
			b.Fatal(err)
		}
	}
}
