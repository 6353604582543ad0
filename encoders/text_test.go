package encoders

import (
	"math"
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"A Dog on a SKATEBOARD!", []string{"a", "dog", "on", "a", "skateboard"}},
		{"#CatVideos 2024", []string{"cat", "videos", "catvideos", "2024"}},
		{"HTTPServer v2", []string{"http", "server", "httpserver", "v", "2", "v2"}},
		{"Über café naïve", []string{"über", "uber", "café", "cafe", "naïve", "naive"}},
		{"Straße İstanbul'da", []string{"straße", "strasse", "istanbul", "da"}},
		{"东京 tokyo", []string{"东", "京", "tokyo"}},
		{"  ", nil},
	}
	for _, c := range cases {
		if got := Tokens(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTextLexical(t *testing.T) {
	t.Parallel()
	var enc TextLexical
	a := enc.Embed("dog dog cat")
	if len(a.Indices) != 2 || !slices.IsSorted(a.Indices) {
		t.Fatalf("embed: %+v", a)
	}
	b := enc.Embed("Cat")
	if !slices.Contains(a.Indices, b.Indices[0]) {
		t.Error("the same word must hash to the same index whatever its case")
	}
	for i, idx := range a.Indices {
		want := float32(1)
		if idx == enc.Embed("dog").Indices[0] {
			want = 1.6931472 // 1 + ln 2
		}
		if d := a.Values[i] - want; d > 1e-6 || d < -1e-6 {
			t.Errorf("weight of index %d: %v, want %v", idx, a.Values[i], want)
		}
	}
	if e := enc.Embed("!!!"); len(e.Indices) != 0 {
		t.Errorf("no terms must give an empty vector: %+v", e)
	}
}

func TestEmbedRepeated(t *testing.T) {
	var tl TextLexical
	one, many := tl.Embed("sports ball"), tl.EmbedRepeated("sports ball", 80)
	if len(one.Indices) != 2 || len(many.Indices) != 2 || one.Indices[0] != many.Indices[0] {
		t.Fatalf("terms differ: %v %v", one.Indices, many.Indices)
	}
	want := float32(1 + math.Log(80))
	for i := range many.Values {
		if one.Values[i] != 1 || math.Abs(float64(many.Values[i]-want)) > 1e-6 {
			t.Errorf("weights %v and %v, want 1 and %v", one.Values, many.Values, want)
		}
	}
}
