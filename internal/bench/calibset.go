package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/internal/realclips"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/search"
	"github.com/mediavec/mediavec/worker"
)

// CalSample is a labelled pair and the fold of its query: its source's
// index modulo CalFolds, so a model fitted on some folds is judged on
// queries about other content.
type CalSample struct {
	search.Sample
	Fold int
}

// CalFolds is the number of folds of the calibration set.
const CalFolds = 3

// CalibrationSet indexes sources (all but the last unindexed of them,
// every other one also as a repost of itself) with the analyzer and asks, for
// each source whose fold asks says to, an edited copy (video), a
// screenshot (image), its paraphrase and its title's words (text) and
// more-like-this, and text queries about nothing indexed. Every candidate any query returns (the
// floor off) is a sample, labelled a match when it is the query's
// content; a match the query did not return at all is a sample with no
// similarity. dir holds the clips and the index.
func CalibrationSet(ctx context.Context, a *analyze.Analyzer, sources []realclips.Source, unindexed int, asks func(fold int) bool, dir string, log io.Writer) ([]CalSample, error) {
	ix, err := embedded.Open(filepath.Join(dir, "index"))
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	segs, vids := worker.Schemas(a.Spaces())
	if err := index.EnsureGeneration(ctx, ix, 1, segs, vids); err != nil {
		return nil, err
	}
	content := map[string]string{} // video id → source name
	add := func(id, path, title string) error {
		res, err := a.Source(ctx, path, analyze.Options{Title: title})
		if err != nil {
			return fmt.Errorf("index %s: %w", id, err)
		}
		job := queue.Job{VideoID: id, Source: queue.FileURL(path), Text: &queue.JobText{Title: title}}
		sp, video := worker.Points(job, res, time.Now().UTC())
		if err := ix.ReplaceVideo(ctx, index.Segments, id, sp); err != nil {
			return err
		}
		return ix.ReplaceVideo(ctx, index.Videos, id, []index.Point{video})
	}
	clips := make([]string, len(sources))
	indexed := len(sources) - unindexed
	for i, src := range sources {
		fmt.Fprintf(log, "calibration: %s\n", src.Name)
		if clips[i], err = realclips.Clip(ctx, src, dir); err != nil {
			return nil, err
		}
		if i >= indexed {
			continue
		}
		if err := add(src.Name, clips[i], src.Title); err != nil {
			return nil, err
		}
		content[src.Name] = src.Name
		if i%2 == 0 {
			p := filepath.Join(dir, src.Name+"-repost.mp4")
			if err := realclips.Repost(ctx, clips[i], realclips.Edits[0], p); err != nil {
				return nil, err
			}
			if err := add(src.Name+"-repost", p, src.Title+" #repost"); err != nil {
				return nil, err
			}
			content[src.Name+"-repost"] = src.Name
		}
	}

	s := search.NewSearcher(a, ix)
	noFloor := 0.0
	opts := search.Options{Limit: search.MaxLimit, MinScore: &noFloor}
	var samples []CalSample
	fold := 0
	collect := func(query, of string, resp search.Response) {
		got := map[string]bool{}
		for _, r := range resp.Results {
			got[r.VideoID] = true
			samples = append(samples, CalSample{Fold: fold, Sample: search.Sample{Kind: resp.Kind, Query: query, Video: r.VideoID,
				Searched: resp.Searched, Sims: r.Spaces, Match: of != "" && content[r.VideoID] == of}})
		}
		for _, id := range slices.Sorted(maps.Keys(content)) {
			if content[id] == of && !got[id] && query != "like:"+id {
				samples = append(samples, CalSample{Fold: fold, Sample: search.Sample{Kind: resp.Kind, Query: query, Video: id,
					Searched: resp.Searched, Sims: map[string]float64{}, Match: true}})
			}
		}
	}
	media := func(path string) (search.Response, error) {
		f, err := os.Open(path)
		if err != nil {
			return search.Response{}, err
		}
		defer f.Close()
		return s.Media(ctx, f, filepath.Base(path), opts)
	}
	for i, src := range sources {
		fold = i % CalFolds
		if !asks(fold) {
			continue
		}
		fmt.Fprintf(log, "calibration: queries about %s\n", src.Name)
		of := src.Name
		if i >= indexed {
			of = "" // nothing indexed is this content
		}
		e := realclips.Edits[i%len(realclips.Edits)]
		copyPath := filepath.Join(dir, fmt.Sprintf("%s-query.mp4", src.Name))
		if err := realclips.Repost(ctx, clips[i], e, copyPath); err != nil {
			return nil, err
		}
		resp, err := media(copyPath)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", copyPath, err)
		}
		collect("video:"+src.Name+" ("+e.Name+")", of, resp)
		jpg := filepath.Join(dir, src.Name+"-query.jpg")
		if err := realclips.Frame(ctx, clips[i], i%2 == 1, jpg); err != nil {
			return nil, err
		}
		if resp, err = media(jpg); err != nil {
			return nil, fmt.Errorf("query %s: %w", jpg, err)
		}
		collect("image:"+src.Name, of, resp)
		if resp, err = s.Text(ctx, src.Query, opts); err != nil {
			return nil, fmt.Errorf("query %q: %w", src.Query, err)
		}
		collect("text:"+src.Query, of, resp)
		if resp, err = s.Text(ctx, src.Words, opts); err != nil {
			return nil, fmt.Errorf("query %q: %w", src.Words, err)
		}
		collect("words:"+src.Words, of, resp)
		if i < indexed {
			if resp, err = s.Like(ctx, src.Name, opts); err != nil {
				return nil, fmt.Errorf("like %s: %w", src.Name, err)
			}
			collect("like:"+src.Name, of, resp)
		}
	}
	for i, q := range realclips.UnrelatedText {
		if fold = i % CalFolds; !asks(fold) {
			continue
		}
		resp, err := s.Text(ctx, q, opts)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", q, err)
		}
		collect("text:"+q, "", resp)
	}
	return samples, nil
}
