package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/index"
)

// Store is the read side of the index.
type Store interface {
	Search(ctx context.Context, collection, vectorName string, vector []float32, limit int, f index.Filter) ([]index.Hit, error)
	Get(ctx context.Context, collection, id string) (index.Point, bool, error)
}

// Searcher plans and runs queries.
type Searcher struct {
	analyzer *analyze.Analyzer
	store    Store
}

// NewSearcher returns a Searcher over store; analyzer embeds query videos.
func NewSearcher(a *analyze.Analyzer, store Store) *Searcher {
	return &Searcher{analyzer: a, store: store}
}

// Options shape a query. The zero value is usable.
type Options struct {
	// Limit is the number of videos returned. Defaults to 10.
	Limit int
	// Spaces restricts the spaces used; all that the query has by default.
	Spaces []string
	// ExcludeVideoID drops one video from the results (more-like-this
	// excludes the video it starts from).
	ExcludeVideoID string
}

func (o Options) withDefaults() Options {
	if o.Limit <= 0 {
		o.Limit = 10
	}
	return o
}

// Match is one matched time range of a result.
type Match struct {
	Space       string  `json:"space"`
	TStart      float64 `json:"t_start"`
	TEnd        float64 `json:"t_end"`
	QueryTStart float64 `json:"query_t_start"`
	QueryTEnd   float64 `json:"query_t_end"`
	Score       float32 `json:"score"`
}

// Result is one video, best first in a Response.
type Result struct {
	VideoID string             `json:"video_id"`
	Score   float64            `json:"score"` // fused rank score in (0, 1]; 1 is first in every space
	Source  string             `json:"source"`
	Spaces  map[string]float64 `json:"spaces"` // per-space similarity in [-1, 1]
	Matches []Match            `json:"matches"`
	Labels  []string           `json:"labels"`
}

// Response is what every query returns.
type Response struct {
	Results []Result `json:"results"`
}

// rrfK is the reciprocal rank fusion constant (Cormack et al.).
const rrfK = 60

// maxMatchesPerSpace caps the matches reported per result and space, so
// every space's evidence shows.
const maxMatchesPerSpace = 10

// ErrEmptyQuery is returned when a query video yields no segment in any
// requested space (e.g. a silent, black or sub-second clip).
var ErrEmptyQuery = errors.New("query has nothing to search with")

// VideoReader searches with a video read from r, such as an upload.
func (s *Searcher) VideoReader(ctx context.Context, r io.Reader, name string, opts Options) (Response, error) {
	res, err := s.analyzer.Reader(ctx, r, name, opts.Spaces)
	if err != nil {
		return Response{}, err
	}
	opts = opts.withDefaults()
	bySpace := map[string][]analyze.Segment{}
	for _, seg := range res.Segments {
		bySpace[seg.Space] = append(bySpace[seg.Space], seg)
	}
	if len(bySpace) == 0 {
		return Response{}, ErrEmptyQuery
	}
	// Enough segment hits per query segment to see every near copy.
	perSegment := max(50, 5*opts.Limit)
	perSpace := map[string]map[string]*videoScore{}
	for space, segs := range bySpace {
		scores := map[string]*videoScore{}
		for _, q := range segs {
			hits, err := s.store.Search(ctx, index.Segments, space, q.Vector, perSegment, index.Filter{ExcludeVideoID: opts.ExcludeVideoID})
			if err != nil {
				return Response{}, fmt.Errorf("search %s: %w", space, err)
			}
			// Best hit per video for this query segment.
			seen := map[string]bool{}
			for _, h := range hits {
				v := h.Payload.VideoID
				if seen[v] {
					continue
				}
				seen[v] = true
				vs := scores[v]
				if vs == nil {
					vs = &videoScore{source: h.Payload.Source}
					scores[v] = vs
				}
				vs.sum += float64(h.Score)
				vs.matches = append(vs.matches, Match{
					Space: space, TStart: h.Payload.TStart, TEnd: h.Payload.TEnd,
					QueryTStart: q.Start.Seconds(), QueryTEnd: q.End.Seconds(), Score: h.Score,
				})
			}
		}
		for _, vs := range scores {
			vs.mean = vs.sum / float64(len(segs))
		}
		perSpace[space] = scores
	}
	return Response{Results: fuse(perSpace, opts.Limit)}, nil
}

// Like finds videos similar to an indexed video, from its video-level
// vectors.
func (s *Searcher) Like(ctx context.Context, videoID string, opts Options) (Response, error) {
	opts = opts.withDefaults()
	p, ok, err := s.store.Get(ctx, index.Videos, index.VideoID(videoID))
	if err != nil {
		return Response{}, err
	}
	if !ok {
		return Response{}, fmt.Errorf("%w: video %s is not indexed", ErrEmptyQuery, videoID)
	}
	perSpace := map[string]map[string]*videoScore{}
	for space, vec := range p.Vectors {
		if len(opts.Spaces) > 0 && !slices.Contains(opts.Spaces, space) {
			continue
		}
		hits, err := s.store.Search(ctx, index.Videos, space, vec, opts.Limit*2, index.Filter{ExcludeVideoID: videoID})
		if err != nil {
			return Response{}, fmt.Errorf("search %s: %w", space, err)
		}
		scores := map[string]*videoScore{}
		for _, h := range hits {
			scores[h.Payload.VideoID] = &videoScore{mean: float64(h.Score), source: h.Payload.Source, matches: []Match{{
				Space: space, TStart: h.Payload.TStart, TEnd: h.Payload.TEnd,
				QueryTStart: p.Payload.TStart, QueryTEnd: p.Payload.TEnd, Score: h.Score,
			}}}
		}
		perSpace[space] = scores
	}
	return Response{Results: fuse(perSpace, opts.Limit)}, nil
}

type videoScore struct {
	sum, mean float64
	source    string
	matches   []Match
}

// fuse ranks videos within each space by score and combines the ranks by
// reciprocal rank fusion, so a space with a wider score range cannot drown
// the others. The fused score is scaled so that a video ranked first in
// every space scores 1.
func fuse(perSpace map[string]map[string]*videoScore, limit int) []Result {
	results := map[string]*Result{}
	spaces := make([]string, 0, len(perSpace))
	for space := range perSpace {
		spaces = append(spaces, space)
	}
	sort.Strings(spaces)
	for _, space := range spaces {
		scores := perSpace[space]
		ids := make([]string, 0, len(scores))
		for id := range scores {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			a, b := scores[ids[i]].mean, scores[ids[j]].mean
			if a != b {
				return a > b
			}
			return ids[i] < ids[j]
		})
		for rank, id := range ids {
			vs := scores[id]
			r := results[id]
			if r == nil {
				r = &Result{VideoID: id, Source: vs.source, Spaces: map[string]float64{}, Labels: []string{}}
				results[id] = r
			}
			r.Score += float64(rrfK+1) / float64(rrfK+rank+1) / float64(len(spaces))
			r.Spaces[space] = vs.mean
			sort.SliceStable(vs.matches, func(i, j int) bool { return vs.matches[i].Score > vs.matches[j].Score })
			r.Matches = append(r.Matches, vs.matches[:min(len(vs.matches), maxMatchesPerSpace)]...)
		}
	}
	out := make([]Result, 0, len(results))
	for _, r := range results {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].VideoID < out[j].VideoID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
