package search

import (
	"math"
	"math/rand/v2"
	"testing"
)

// testCalibration weighs "frame" strongly and "audio" weakly.
var testCalibration = Calibration{MinScore: 0.5, Kinds: map[string]Model{
	KindMedia: {Bias: -1, Spaces: map[string]SpaceWeights{"frame": {Weight: 10, Offset: -7}, "audio": {Weight: 2, Offset: -1}}},
}}

func TestFuseScoresByCalibration(t *testing.T) {
	t.Parallel()
	s := &Searcher{cal: testCalibration}
	perSpace := map[string]map[string]*videoScore{
		"frame": {
			"a": {mean: 0.99, sim: 0.99, matches: []Match{{Space: "frame", Score: 0.99}}},
			"b": {mean: 0.50, sim: 0.50},
			"c": {mean: 0.10, sim: 0.10},
		},
		"audio": {
			// b is first in audio, but audio weighs little.
			"b": {mean: 0.95, sim: 0.95},
			"a": {mean: 0.94, sim: 0.94, matches: []Match{{Space: "audio", Score: 0.94}}},
			"c": {mean: 0.93, sim: 0.93},
		},
	}
	zero := 0.0
	got := s.fuse(KindMedia, perSpace, Options{Limit: 10, MinScore: &zero}).Results
	if len(got) != 3 || got[0].VideoID != "a" || got[1].VideoID != "b" || got[2].VideoID != "c" {
		t.Fatalf("order %+v, want a b c", got)
	}
	// logit(a) = -1 + 10·0.99 - 7 + 2·0.94 - 1
	want := 1 / (1 + math.Exp(-(-1 + 9.9 - 7 + 1.88 - 1)))
	if math.Abs(got[0].Score-want) > 1e-9 {
		t.Errorf("a scores %f, want %f", got[0].Score, want)
	}
	if len(got[0].Matches) != 2 || got[0].Spaces["frame"] != 0.99 || got[0].Spaces["audio"] != 0.94 {
		t.Errorf("a carries %+v", got[0])
	}
	if got[0].RankFusion <= got[2].RankFusion {
		t.Errorf("rank fusion %f for a, %f for c", got[0].RankFusion, got[2].RankFusion)
	}
	// The default floor keeps only a.
	resp := s.fuse(KindMedia, perSpace, Options{Limit: 10})
	if len(resp.Results) != 1 || resp.Results[0].VideoID != "a" || resp.Below != 2 || resp.MinScore != 0.5 {
		t.Errorf("with the floor: %+v", resp)
	}
	if len(s.fuse(KindMedia, perSpace, Options{Limit: 1, MinScore: &zero}).Results) != 1 {
		t.Error("limit not applied")
	}
}

func TestFuseKeepsEvidenceOfEverySpace(t *testing.T) {
	t.Parallel()
	frame := &videoScore{mean: 1, sim: 1}
	for range 30 {
		frame.matches = append(frame.matches, Match{Space: "frame", Score: 1})
	}
	audio := &videoScore{mean: 0.5, sim: 0.5, matches: []Match{{Space: "audio", Score: 0.5}}}
	s := &Searcher{cal: testCalibration}
	got := s.fuse(KindMedia, map[string]map[string]*videoScore{"frame": {"a": frame}, "audio": {"a": audio}}, Options{Limit: 1}).Results
	n := map[string]int{}
	for _, m := range got[0].Matches {
		n[m.Space]++
	}
	if n["frame"] != maxMatchesPerSpace || n["audio"] != 1 {
		t.Errorf("matches per space %v", n)
	}
}

func TestCalibrationScore(t *testing.T) {
	t.Parallel()
	c := testCalibration
	// A space the model does not know does not count.
	if a, b := c.Score(KindMedia, []string{"frame", "clip_x"}, map[string]float64{"frame": 0.9, "clip_x": 0.1}),
		c.Score(KindMedia, []string{"frame"}, map[string]float64{"frame": 0.9}); a != b {
		t.Errorf("an unknown space changed the score: %f, %f", a, b)
	}
	// With no known space the score is the best similarity.
	if got := c.Score(KindMedia, []string{"clip_x"}, map[string]float64{"clip_x": 0.31}); got != 0.31 {
		t.Errorf("uncalibrated score %f, want the similarity 0.31", got)
	}
	if got := c.Score(KindText, []string{"frame"}, map[string]float64{"frame": 1.7}); got != 1 {
		t.Errorf("uncalibrated score %f, want at most 1", got)
	}
	if err := Shipped(); err.Kinds == nil && err.MinScore == 0 {
		t.Error("the shipped calibration is empty")
	}
}

// Fit recovers a model that separates the classes of a noisy generated set
// and puts the floor between them; AUC is right on known orders.
func TestFitAndAUC(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var samples []Sample
	for i := range 400 {
		match := i%5 == 0
		mu := 0.3
		if match {
			mu = 0.8
		}
		searched := []string{"frame", "audio"}
		if i%3 == 0 {
			searched = searched[:1] // an image: no audio
		}
		samples = append(samples, Sample{Kind: KindMedia, Searched: searched, Match: match,
			Sims: map[string]float64{"frame": mu + 0.1*rng.NormFloat64(), "audio": 0.5 + 0.2*rng.NormFloat64()}})
	}
	m := Fit(samples, 1)
	c := Calibration{Kinds: map[string]Model{KindMedia: m}}
	var scores []float64
	var labels []bool
	for _, s := range samples {
		scores = append(scores, c.Score(s.Kind, s.Searched, s.Sims))
		labels = append(labels, s.Match)
	}
	if auc := AUC(scores, labels); auc < 0.98 {
		t.Errorf("AUC %f on a separable set", auc)
	}
	if m.Spaces["frame"].Weight <= 0 || math.Abs(m.Spaces["audio"].Weight) > m.Spaces["frame"].Weight/3 {
		t.Errorf("weights %+v: want frame to weigh, audio (noise) not", m.Spaces)
	}
	if p := c.Score(KindMedia, []string{"frame"}, map[string]float64{"frame": 0.55}); math.Abs(p-0.5) > 0.15 {
		t.Errorf("midway between the classes scores %f, want about 0.5", p)
	}
	if a := AUC([]float64{0.1, 0.2, 0.3, 0.4}, []bool{false, false, true, true}); a != 1 {
		t.Errorf("AUC %f, want 1", a)
	}
	if a := AUC([]float64{0.5, 0.5}, []bool{false, true}); a != 0.5 {
		t.Errorf("AUC of a tie %f, want 0.5", a)
	}
}
