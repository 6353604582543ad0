package analyze

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// How successive readings of on-screen text, half a second apart, become
// units: held text, captions growing or stepping a word at a time, a
// garbled reading at the frame where a caption changes, and a new text.
func TestCaptionRunMergesReadings(t *testing.T) {
	t.Parallel()
	const half = 500 * time.Millisecond
	type want struct {
		text  string
		words string // "word@start-end …", empty for text shown whole
	}
	cases := []struct {
		name     string
		readings []string // one per half second; "" reads nothing, "…?" less surely
		want     []want
	}{
		{"held", []string{"BIG NEWS", "BIG\nNEWS", "BIG NEWS"}, []want{{"BIG NEWS", ""}}},
		{"growing", []string{"Wait", "Wait for", "Wait for it"},
			[]want{{"Wait for it", "Wait@0-1.5 for@0.5-1.5 it@1-1.5"}}},
		{"stepping", []string{"Wait", "for", "it"},
			[]want{{"Wait for it", "Wait@0-0.5 for@0.5-1 it@1-1.5"}}},
		// The changing frame reads the outlined words run together; the
		// next reading, with more words, replaces it and keeps its time.
		{"garbled while growing", []string{"Wait", "Waitifor?", "Wait for", "Wait for it"},
			[]want{{"Wait for it", "Wait@0-2 for@0.5-2 it@1.5-2"}}},
		{"a long caption, then another", []string{"Students walking to the morning lecture", "Dinner date goes wrong"},
			[]want{{"Students walking to the morning lecture", ""}, {"Dinner date goes wrong", ""}}},
		{"a gap without text ends a unit", []string{"Wait", "", "for"}, []want{{"Wait", ""}, {"for", ""}}},
		{"short captions held long are captions of their own", []string{"SUNSET SURFING", "SUNSET SURFING", "SUNSET SURFING", "SUNSET SURFING", "WINTER SKIING"},
			[]want{{"SUNSET SURFING", ""}, {"WINTER SKIING", ""}}},
		{"a counter moving on is new text", []string{"Score: 10 points to win", "Score: 11 points to win"},
			[]want{{"Score: 10 points to win", ""}, {"Score: 11 points to win", ""}}},
		{"a reading nearly the same is the same text", []string{"Students walking to the morning lecture", "Students walking to the moming lecture?"},
			[]want{{"Students walking to the morning lecture", ""}}},
	}
	for _, c := range cases {
		var units []TextUnit
		var run captionRun
		for i, text := range c.readings {
			f := Frame{Start: time.Duration(i) * half, End: time.Duration(i+1) * half}
			if text == "" {
				continue
			}
			// "?" marks a reading the OCR was less sure of.
			conf := float32(0.95)
			if t, ok := strings.CutSuffix(text, "?"); ok {
				text, conf = t, 0.8
			}
			units = run.add(units, f, text, conf)
		}
		untime(units)
		var got []want
		for _, u := range units {
			var ws []string
			for _, w := range u.Words {
				ws = append(ws, fmt.Sprintf("%s@%g-%g", w.Text, w.Start.Seconds(), w.End.Seconds()))
			}
			got = append(got, want{u.Text, strings.Join(ws, " ")})
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: units %q, want %q", c.name, got, c.want)
		}
	}
}
