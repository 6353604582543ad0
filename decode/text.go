package decode

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asticode/go-astiav"
)

type subtitleState struct {
	stream   *astiav.Stream
	codec    astiav.CodecID
	language string
}

func textSubtitle(id astiav.CodecID) bool {
	switch id {
	case astiav.CodecIDMovText, astiav.CodecIDSubrip, astiav.CodecIDSrt, astiav.CodecIDText,
		astiav.CodecIDWebvtt, astiav.CodecIDAss, astiav.CodecIDSsa:
		return true
	}
	return false
}

// metadataKeys are the container tags that describe the content.
var metadataKeys = []string{"title", "description", "synopsis", "comment", "keywords", "genre", "artist", "album", "show"}

func metadataCues(md map[string]string, dur time.Duration) []Cue {
	var cues []Cue
	for _, k := range metadataKeys {
		if v := cleanText(md[k]); v != "" {
			cues = append(cues, Cue{Start: 0, End: dur, Text: v, Source: "metadata:" + k})
		}
	}
	return cues
}

// readSubtitle turns one subtitle packet into a cue. Text subtitle packets
// carry their text directly, so no subtitle decoder is needed.
func (d *decoder) readSubtitle(s *subtitleState, pkt *astiav.Packet) {
	data := pkt.Data()
	var text string
	switch s.codec {
	case astiav.CodecIDMovText:
		// 3GPP timed text: a 16-bit big-endian length, the UTF-8 text,
		// then style boxes.
		if len(data) < 2 {
			return
		}
		n := int(binary.BigEndian.Uint16(data))
		if n > len(data)-2 {
			n = len(data) - 2
		}
		text = string(data[2 : 2+n])
	case astiav.CodecIDAss, astiav.CodecIDSsa:
		// Matroska ASS packets: ReadOrder,Layer,Style,Name,MarginL,
		// MarginR,MarginV,Effect,Text — the text is after the 8th comma.
		parts := strings.SplitN(string(data), ",", 9)
		if len(parts) < 9 {
			return
		}
		text = assText(parts[8])
	default: // subrip, srt, text, webvtt
		text = string(data)
	}
	text = cleanText(stripTags(text))
	if text == "" {
		return
	}
	start := streamTime(s.stream, pkt.Pts())
	if start < 0 {
		start = streamTime(s.stream, pkt.Dts())
	}
	if start < 0 {
		return
	}
	end := start
	if pkt.Duration() > 0 {
		tb := s.stream.TimeBase()
		end = start + time.Duration(float64(pkt.Duration())*float64(tb.Num())/float64(tb.Den())*float64(time.Second))
	}
	source := "subtitle:" + strconv.Itoa(s.stream.Index())
	if s.language != "" && s.language != "und" {
		source += ":" + s.language
	}
	d.media.Text = append(d.media.Text, Cue{Start: start, End: end, Text: text, Source: source})
}

// assText drops ASS override blocks ({\i1} …) and turns ASS line breaks
// into spaces.
func assText(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '{':
			depth++
		case r == '}' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	out := b.String()
	return strings.NewReplacer(`\N`, " ", `\n`, " ", `\h`, " ").Replace(out)
}

// stripTags drops HTML-like tags (<i>, <font …>, WebVTT <c.x>, <00:01.000>).
func stripTags(s string) string {
	if !strings.ContainsAny(s, "<{") {
		return s
	}
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
		case r == '>' && inTag:
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return assText(b.String())
}

// cleanText makes text safe to index: valid UTF-8, no control characters,
// single spaces.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
