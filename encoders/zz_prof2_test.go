package encoders

import (
	"testing"
	"time"
)

func TestScratchCaptionCost(t *testing.T) {
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatal(err)
	}
	rgb, w, h := renderText(t, "color=c=0x3060a0", drawtext("Best moments of the week", 24, "white", ":borderw=2:bordercolor=black"), 640, 360)
	o, err := LoadOCR(DefaultModelsDir(), OCRConfig{}, SessionConfig{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	alone, _ := LoadOCR(DefaultModelsDir(), OCRConfig{NoTesseract: true}, SessionConfig{IntraOpThreads: 1})
	defer alone.Close()
	n := 30
	for range 2 {
		st := time.Now()
		for range n {
			o.Read(rgb, w, h)
		}
		a := time.Since(st) / time.Duration(n)
		st = time.Now()
		for range n {
			alone.Read(rgb, w, h)
		}
		b := time.Since(st) / time.Duration(n)
		boxes, _ := o.detect(rgb, w, h)
		st = time.Now()
		for range n {
			o.latin.ReadLine(rgb, w, h, boxes[0])
		}
		c := time.Since(st) / time.Duration(n)
		t.Logf("with tesseract %v, alone %v, tesseract line %v box %v", a, b, c, boxes[0])
	}
}
