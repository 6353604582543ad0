package search

import (
	"math"
	"testing"
)

func TestFuseRanksAcrossSpaces(t *testing.T) {
	t.Parallel()
	perSpace := map[string]map[string]*videoScore{
		"frame": {
			"a": {mean: 0.99, matches: []Match{{Space: "frame", Score: 0.99}}},
			"b": {mean: 0.50},
			"c": {mean: 0.10},
		},
		"audio": {
			// Audio scores sit in a narrow band; only the ranks count.
			"a": {mean: 0.95, matches: []Match{{Space: "audio", Score: 0.95}}},
			"c": {mean: 0.94},
			"b": {mean: 0.93},
		},
	}
	got := fuse(perSpace, 10)
	if len(got) != 3 || got[0].VideoID != "a" {
		t.Fatalf("fused %+v, want a first", got)
	}
	if math.Abs(got[0].Score-1) > 1e-9 {
		t.Errorf("first in every space scores %f, want 1", got[0].Score)
	}
	// b and c are 2nd in one space and 3rd in the other: a tie, broken by id.
	if got[1].VideoID != "b" || got[2].VideoID != "c" || got[1].Score != got[2].Score {
		t.Errorf("order %s %s (%f %f)", got[1].VideoID, got[2].VideoID, got[1].Score, got[2].Score)
	}
	if len(got[0].Matches) != 2 || got[0].Spaces["frame"] != 0.99 || got[0].Spaces["audio"] != 0.95 {
		t.Errorf("a carries %+v", got[0])
	}
	if len(fuse(perSpace, 1)) != 1 {
		t.Error("limit not applied")
	}
}

func TestFuseKeepsEvidenceOfEverySpace(t *testing.T) {
	t.Parallel()
	frame := &videoScore{mean: 1}
	for range 30 {
		frame.matches = append(frame.matches, Match{Space: "frame", Score: 1})
	}
	audio := &videoScore{mean: 0.5, matches: []Match{{Space: "audio", Score: 0.5}}}
	got := fuse(map[string]map[string]*videoScore{"frame": {"a": frame}, "audio": {"a": audio}}, 1)
	n := map[string]int{}
	for _, m := range got[0].Matches {
		n[m.Space]++
	}
	if n["frame"] != maxMatchesPerSpace || n["audio"] != 1 {
		t.Errorf("matches per space %v", n)
	}
}
