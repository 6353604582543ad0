package search

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/clips"
)

// TestNearDuplicateQuality indexes 20 source clips of distinct content and
// queries with 6 edited copies of each (re-encoded at low quality, half
// scale, 10% crop, a text overlay, the first 2 s trimmed, 1.1× speed). The
// source must rank first for at least 95% of the 120 queries. Run with -v
// to see recall@1 per edit; the last line is the overall recall@1.
func TestNearDuplicateQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 140 clips; skipped in -short mode")
	}
	h := newHarness(t, false)
	dir := t.TempDir()
	sources := clips.NearDupSources(6)
	type job struct{ src, kind string }
	var jobs []job
	for _, s := range sources {
		jobs = append(jobs, job{s.Name, ""})
		for _, k := range clips.CopyKinds {
			jobs = append(jobs, job{s.Name, k})
		}
	}
	// Sources first (copies are made from them), two ffmpeg processes at a
	// time.
	gen := func(kindless bool) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		errs := make(chan error, len(jobs))
		for i, s := range sources {
			for _, j := range jobs {
				if j.src != s.Name || (j.kind == "") != kindless {
					continue
				}
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					var err error
					if j.kind == "" {
						_, err = clips.Make(dir, sources[i])
					} else {
						err = clips.MakeCopy(filepath.Join(dir, j.src+".mp4"), filepath.Join(dir, j.src+"-"+j.kind+".mp4"), j.kind)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	gen(true)
	gen(false)
	for _, s := range sources {
		h.Add(s.Name, filepath.Join(dir, s.Name+".mp4"), "", encoders.SpaceFrameDCT)
	}

	hits := map[string]int{}
	var copyScores, otherScores []float64
	worst, worstScore := "", 0.0
	var misses []string
	total, ok := 0, 0
	for _, j := range jobs {
		if j.kind == "" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, j.src+"-"+j.kind+".mp4"))
		if err != nil {
			t.Fatal(err)
		}
		// Threshold near zero: rank every candidate, to see the margins.
		resp, err := h.searcher.NearDuplicates(t.Context(), f, j.src+"-"+j.kind, NearDupOptions{Threshold: 1e-6, Limit: 5})
		f.Close()
		if err != nil {
			t.Fatalf("query %s-%s: %v", j.src, j.kind, err)
		}
		total++
		if len(resp.Results) > 0 && resp.Results[0].VideoID == j.src {
			ok++
			hits[j.kind]++
		} else {
			got := "nothing"
			if len(resp.Results) > 0 {
				got = fmt.Sprintf("%s (%.3f)", resp.Results[0].VideoID, resp.Results[0].Score)
			}
			misses = append(misses, fmt.Sprintf("%s-%s → %s", j.src, j.kind, got))
		}
		for _, r := range resp.Results {
			if r.VideoID == j.src {
				copyScores = append(copyScores, r.Score)
			} else {
				otherScores = append(otherScores, r.Score)
				if r.Score > worstScore {
					worst, worstScore = j.src+"-"+j.kind+" → "+r.VideoID, r.Score
				}
			}
		}
	}
	for _, k := range clips.CopyKinds {
		t.Logf("recall@1 %-9s %d/%d", k, hits[k], len(sources))
	}
	sort.Float64s(copyScores)
	sort.Float64s(otherScores)
	if len(copyScores) > 0 && len(otherScores) > 0 {
		t.Logf("alignment scores: copies min %.3f median %.3f; unrelated median %.3f max %.3f (default threshold %.2f)",
			copyScores[0], copyScores[len(copyScores)/2], otherScores[len(otherScores)/2], otherScores[len(otherScores)-1], DefaultNearDupThreshold)
		t.Logf("closest unrelated pair: %s (%.3f)", worst, worstScore)
		above := func(xs []float64) int {
			return len(xs) - sort.SearchFloat64s(xs, DefaultNearDupThreshold)
		}
		t.Logf("at the default threshold: %d/%d copies and %d unrelated candidates reported", above(copyScores), len(copyScores), above(otherScores))
	}
	if len(misses) > 0 {
		t.Logf("misses: %s", strings.Join(misses, "; "))
	}
	recall := float64(ok) / float64(total)
	fmt.Printf("near-duplicate recall@1: %.3f (%d/%d)\n", recall, ok, total)
	t.Logf("recall@1 = %.3f (%d/%d)", recall, ok, total)
	if recall < 0.95 {
		t.Errorf("recall@1 %.3f, want ≥ 0.95", recall)
	}
}
