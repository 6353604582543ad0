package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
)

// Searcher plans and runs queries over an index.
type Searcher struct {
	analyzer *analyze.Analyzer
	ix       index.Reader
	cal      Calibration
}

// NewSearcher returns a Searcher over ix; analyzer embeds query videos,
// images and text exactly as uploads are embedded.
func NewSearcher(a *analyze.Analyzer, ix index.Reader) *Searcher {
	return &Searcher{analyzer: a, ix: ix, cal: Shipped()}
}

// Spaces lists the spaces queries can use.
func (s *Searcher) Spaces() []analyze.SpaceInfo { return s.analyzer.Spaces() }

// Options shape a query. The zero value is usable.
type Options struct {
	// Limit is the number of videos returned. Defaults to DefaultLimit, at
	// most MaxLimit.
	Limit int
	// Spaces restricts the spaces used; all that the query has by default.
	Spaces []string
	// Filter restricts the candidate segments (labels, videos, time).
	Filter index.Filter
	// Safe leaves out the videos judged unsafe, inside the index, before
	// the limit (Filter.ExcludeUnsafe).
	Safe bool
	// DecodeThreads, when set, is the decoder's threads for a query file
	// (analyze.Options.DecodeThreads).
	DecodeThreads int
	// MinScore is the floor: results scoring under it are not returned.
	// nil is the calibration's default floor (Shipped().MinScore); 0
	// returns every result.
	MinScore *float64
}

// DefaultLimit is Options.Limit's default; MaxLimit caps it.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

func (o Options) withDefaults() Options {
	o.Limit = min(cmp.Or(max(o.Limit, 0), DefaultLimit), MaxLimit)
	o.Filter.ExcludeUnsafe = o.Filter.ExcludeUnsafe || o.Safe
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
	// Text is the matched text of a text segment.
	Text string `json:"text,omitempty"`
	// Words time the words of on-screen text that came on screen a word
	// or a phrase at a time.
	Words []index.TimedWord `json:"words,omitempty"`
	// Confidence is how sure the OCR was of matched on-screen text.
	Confidence float64 `json:"confidence,omitempty"`
}

// Result is one video, best first in a Response.
type Result struct {
	VideoID string `json:"video_id"`
	// Score is the calibrated probability that the video is the query's
	// content (Calibration), in [0, 1]; for near-duplicates, the aligned
	// share of the query (see NearDuplicates).
	Score float64 `json:"score"`
	// RankFusion is the reciprocal-rank fusion of the spaces, scaled so
	// that first in every space is 1: the order the spaces agree on,
	// which breaks ties of Score.
	RankFusion float64            `json:"rank_fusion,omitempty"`
	Source     string             `json:"source"`
	Title      string             `json:"title,omitempty"`
	Spaces     map[string]float64 `json:"spaces"` // per-space similarity (text_lexical_v1: the share of the query's words matched)
	Matches    []Match            `json:"matches"`
	Labels     []string           `json:"labels"`
	// Alignment is set on near-duplicate results.
	Alignment *Alignment `json:"alignment,omitempty"`
	// AudioReuse is set on near-duplicate results whose soundtrack plays
	// under the query, whether or not the pictures are a copy.
	AudioReuse *AudioReuse `json:"audio_reuse,omitempty"`
	// Safety is the video's content-safety summary, when it was
	// classified.
	Safety *Safety `json:"safety,omitempty"`
}

// Safety is a result's content-safety summary: per class (lower case) the
// highest frame probability and the share of frames showing it, and
// whether the video is unsafe.
type Safety struct {
	Unsafe bool               `json:"unsafe"`
	Max    map[string]float64 `json:"max"`
	Share  map[string]float64 `json:"share"`
}

// SafetyOf reads a video point's safety scores ("CLASS_max",
// "CLASS_share"; see worker.SafetyScores); nil when there are none.
func SafetyOf(p index.Payload) *Safety {
	if len(p.Safety) == 0 {
		return nil
	}
	s := &Safety{Unsafe: p.Unsafe, Max: map[string]float64{}, Share: map[string]float64{}}
	for k, v := range p.Safety {
		if class, ok := strings.CutSuffix(k, "_max"); ok {
			s.Max[class] = v
		} else if class, ok := strings.CutSuffix(k, "_share"); ok {
			s.Share[class] = v
		}
	}
	return s
}

// Response is what every query returns.
type Response struct {
	Results []Result `json:"results"`
	// Kind is the calibration's kind of the query (media, text, like),
	// and Searched the spaces it searched.
	Kind     string   `json:"kind,omitempty"`
	Searched []string `json:"searched,omitempty"`
	// MinScore is the floor applied; Below counts the results under it
	// that were left out.
	MinScore float64 `json:"min_score"`
	Below    int     `json:"below,omitempty"`
}

// rrfK is the reciprocal rank fusion constant (Cormack et al.).
const rrfK = 60

// maxMatchesPerSpace caps the matches reported per result and space, so
// every space's evidence shows.
const maxMatchesPerSpace = 10

// ErrEmptyQuery is returned when a query yields nothing to search with
// (a silent, black or sub-second clip; text without a word).
var ErrEmptyQuery = errors.New("query has nothing to search with")

// ErrNotFound is returned by Like for a video that is not indexed.
var ErrNotFound = errors.New("not found")

// Media searches with a video or a still image read from r, such as an
// upload: it goes through the same decode and encoders as an indexed video,
// then each query segment looks up its best segment per video.
func (s *Searcher) Media(ctx context.Context, r io.Reader, name string, opts Options) (Response, error) {
	res, err := s.analyzer.Reader(ctx, r, name, analyze.Options{Spaces: opts.Spaces, DecodeThreads: opts.DecodeThreads})
	if err != nil {
		return Response{}, err
	}
	opts = opts.withDefaults()
	bySpace := map[string][]analyze.Segment{}
	for _, seg := range res.Segments {
		// A fingerprint says which recording, not what it shows or says:
		// near-duplicate search reads it (audio reuse), similarity does not.
		if seg.Space == encoders.SpaceAudioPrint {
			continue
		}
		bySpace[seg.Space] = append(bySpace[seg.Space], seg)
	}
	if len(bySpace) == 0 {
		return Response{}, ErrEmptyQuery
	}
	// Enough videos per query segment to see every near copy.
	perSegment := max(50, 5*opts.Limit)
	perSpace := map[string]map[string]*videoScore{}
	for space, segs := range bySpace {
		scores := map[string]*videoScore{}
		for _, q := range segs {
			// A text segment's similarity is the share of its content
			// words the matched segment holds (its BM25 score orders).
			var words []string
			if q.Sparse != nil {
				words = contentWords(q.Text)
			}
			iq := index.Query{Collection: index.Segments, Using: space, Limit: perSegment, Filter: opts.Filter}
			if q.Sparse != nil {
				iq.Sparse = &index.SparseVector{Indices: q.Sparse.Indices, Values: q.Sparse.Values}
			} else {
				iq.Dense = q.Vector
			}
			groups, err := s.ix.QueryGroups(ctx, iq, 1)
			if err != nil {
				return Response{}, fmt.Errorf("search %s: %w", space, err)
			}
			for _, g := range groups {
				h := g.Hits[0]
				vs := scores[g.VideoID]
				if vs == nil {
					vs = &videoScore{source: h.Payload.Source}
					scores[g.VideoID] = vs
				}
				vs.sum += float64(h.Score)
				if words != nil {
					vs.simSum += coverage(words, h.Payload.Text)
				} else {
					vs.simSum += float64(h.Score)
				}
				vs.matches = append(vs.matches, match(space, h, q.Start.Seconds(), q.End.Seconds()))
			}
		}
		for _, vs := range scores {
			vs.mean = vs.sum / float64(len(segs))
			vs.sim = vs.simSum / float64(len(segs))
		}
		perSpace[space] = scores
	}
	return s.finish(ctx, s.fuse(KindMedia, perSpace, opts))
}

// Text searches with words: the lexical space, scored with IDF, over the
// text segments (titles, metadata, subtitles, on-screen text, object
// labels) — counting only segments that hold at least MinShouldMatch of
// the query's content words —, the semantic space (text_use_v1: the query
// embedded by meaning against the same segments), and every CLIP space
// (the text tower against the frames) when CLIP models are loaded, fused
// by rank. Each video scores by its best segments; the matched cues and
// frames are its time ranges.
func (s *Searcher) Text(ctx context.Context, text string, opts Options) (Response, error) {
	opts = opts.withDefaults()
	use := func(space string) bool { return len(opts.Spaces) == 0 || slices.Contains(opts.Spaces, space) }
	perSpace := map[string]map[string]*videoScore{}
	query := func(space string, q index.Query) error {
		scores, err := s.bestSegments(ctx, space, q, opts)
		perSpace[space] = scores
		return err
	}
	sv := s.analyzer.Text(text)
	if use(encoders.SpaceTextLexical) && len(sv.Indices) > 0 {
		if err := query(encoders.SpaceTextLexical, index.Query{Sparse: &index.SparseVector{Indices: sv.Indices, Values: sv.Values}}); err != nil {
			return Response{}, err
		}
		// Only segments that hold the query's words count as lexical
		// matches (MinShouldMatch).
		words := contentWords(text)
		for id, vs := range perSpace[encoders.SpaceTextLexical] {
			best := 0.0
			for _, m := range vs.matches {
				best = max(best, coverage(words, m.Text))
			}
			if best < MinShouldMatch {
				delete(perSpace[encoders.SpaceTextLexical], id)
			}
			vs.sim = best
		}
	}
	if strings.TrimSpace(text) != "" {
		vecs, err := s.analyzer.TextVectors(ctx, text)
		if err != nil {
			return Response{}, err
		}
		for space, v := range vecs {
			if !use(space) {
				continue
			}
			if err := query(space, index.Query{Dense: v}); err != nil {
				return Response{}, err
			}
		}
	}
	if len(perSpace) == 0 {
		if len(sv.Indices) == 0 {
			return Response{}, fmt.Errorf("%w: %q has no word", ErrEmptyQuery, text)
		}
		return Response{}, fmt.Errorf("%w: none of the spaces %v searches text", ErrEmptyQuery, opts.Spaces)
	}
	return s.finish(ctx, s.fuse(KindText, perSpace, opts))
}

// Vector searches one dense space's segments with a vector the caller
// computed (with the same model); each video scores by its best segment.
func (s *Searcher) Vector(ctx context.Context, space string, vec []float32, opts Options) (Response, error) {
	opts = opts.withDefaults()
	scores, err := s.bestSegments(ctx, space, index.Query{Dense: vec}, opts)
	if err != nil {
		return Response{}, err
	}
	// One vector against the segments is one frame of an image query.
	return s.finish(ctx, s.fuse(KindMedia, map[string]map[string]*videoScore{space: scores}, opts))
}

// bestSegments runs q (a dense or sparse vector) on one space's segments,
// grouped by video: each video scores by its best segment, and its best
// three are its matches.
func (s *Searcher) bestSegments(ctx context.Context, space string, q index.Query, opts Options) (map[string]*videoScore, error) {
	q.Collection, q.Using, q.Limit, q.Filter = index.Segments, space, opts.Limit, opts.Filter
	groups, err := s.ix.QueryGroups(ctx, q, 3)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", space, err)
	}
	scores := map[string]*videoScore{}
	for _, g := range groups {
		vs := &videoScore{mean: float64(g.Hits[0].Score), sim: float64(g.Hits[0].Score), source: g.Hits[0].Payload.Source}
		for _, h := range g.Hits {
			vs.matches = append(vs.matches, match(space, h, 0, 0))
		}
		scores[g.VideoID] = vs
	}
	return scores, nil
}

// Like finds videos similar to an indexed video, from its video-level
// vectors: one query per space on the videos collection, fused by rank.
func (s *Searcher) Like(ctx context.Context, videoID string, opts Options) (Response, error) {
	opts = opts.withDefaults()
	pts, err := s.ix.Get(ctx, index.Videos, index.VideoID(videoID))
	if err != nil {
		return Response{}, err
	}
	if len(pts) == 0 {
		return Response{}, fmt.Errorf("%w: video %s is not indexed", ErrNotFound, videoID)
	}
	p := pts[0]
	filter := opts.Filter
	filter.ExcludeVideoIDs = append(slices.Clone(filter.ExcludeVideoIDs), videoID)
	perSpace := map[string]map[string]*videoScore{}
	// The lexical similarity of two videos is the share of this one's
	// title words the other's title holds.
	titleWords := contentWords(p.Payload.Text)
	add := func(space string, q index.Query) error {
		if len(opts.Spaces) > 0 && !slices.Contains(opts.Spaces, space) {
			return nil
		}
		if q.Sparse != nil && p.Payload.Text == "" {
			return nil // nothing to compare titles with
		}
		q.Collection, q.Using, q.Limit, q.Filter = index.Videos, space, opts.Limit*2, filter
		hits, err := s.ix.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("search %s: %w", space, err)
		}
		scores := map[string]*videoScore{}
		for _, h := range hits {
			sim := float64(h.Score)
			if q.Sparse != nil {
				sim = coverage(titleWords, h.Payload.Text)
			}
			scores[h.Payload.VideoID] = &videoScore{mean: float64(h.Score), sim: sim, source: h.Payload.Source,
				matches: []Match{match(space, h, p.Payload.TStart, p.Payload.TEnd)}}
		}
		perSpace[space] = scores
		return nil
	}
	for space, vec := range p.Vectors {
		if err := add(space, index.Query{Dense: vec}); err != nil {
			return Response{}, err
		}
	}
	for space, sv := range p.Sparse {
		if err := add(space, index.Query{Sparse: &sv}); err != nil {
			return Response{}, err
		}
	}
	return s.finish(ctx, s.fuse(KindLike, perSpace, opts))
}

func match(space string, h index.Hit, qStart, qEnd float64) Match {
	return Match{
		Space: space, TStart: h.Payload.TStart, TEnd: h.Payload.TEnd,
		QueryTStart: qStart, QueryTEnd: qEnd, Score: h.Score,
		Text: h.Payload.Text, Words: h.Payload.Words, Confidence: h.Payload.Confidence,
	}
}

// finish adds each result's title and labels from its video point.
func (s *Searcher) finish(ctx context.Context, resp Response) (Response, error) {
	results := resp.Results
	if len(results) == 0 {
		resp.Results = []Result{}
		return resp, nil
	}
	ids := make([]string, len(results))
	for i, r := range results {
		ids[i] = index.VideoID(r.VideoID)
	}
	pts, err := s.ix.Get(ctx, index.Videos, ids...)
	if err != nil {
		return Response{}, err
	}
	byVideo := map[string]index.Payload{}
	for _, p := range pts {
		byVideo[p.Payload.VideoID] = p.Payload
	}
	for i := range results {
		if p, ok := byVideo[results[i].VideoID]; ok {
			results[i].Title = p.Fields["title"]
			results[i].Safety = SafetyOf(p)
			if p.Labels != nil {
				results[i].Labels = p.Labels
			}
		}
	}
	return resp, nil
}

type videoScore struct {
	// sum and mean order a space's candidates (the index's scores); sim
	// is the bounded similarity calibration reads (the same for dense
	// spaces, the share of words matched for the lexical one).
	sum, mean   float64
	simSum, sim float64
	source      string
	matches     []Match
}

// fuse scores every candidate with the calibration for the query's kind
// (its per-space similarities in the spaces searched), keeps those at or
// over the floor, best first, and records the reciprocal rank fusion of
// the spaces (first in every space is 1) as the tie-break and for
// reference.
func (s *Searcher) fuse(kind string, perSpace map[string]map[string]*videoScore, opts Options) Response {
	results := map[string]*Result{}
	spaces := slices.Sorted(maps.Keys(perSpace))
	for _, space := range spaces {
		scores := perSpace[space]
		ids := slices.Collect(maps.Keys(scores))
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
			r.RankFusion += float64(rrfK+1) / float64(rrfK+rank+1) / float64(len(spaces))
			r.Spaces[space] = vs.sim
			sort.SliceStable(vs.matches, func(i, j int) bool { return vs.matches[i].Score > vs.matches[j].Score })
			r.Matches = append(r.Matches, vs.matches[:min(len(vs.matches), maxMatchesPerSpace)]...)
		}
	}
	floor := s.cal.MinScore
	if opts.MinScore != nil {
		floor = *opts.MinScore
	}
	resp := Response{Kind: kind, Searched: spaces, MinScore: floor, Results: make([]Result, 0, len(results))}
	for _, r := range results {
		r.Score = s.cal.Score(kind, spaces, r.Spaces)
		if r.Score < floor {
			resp.Below++
			continue
		}
		resp.Results = append(resp.Results, *r)
	}
	sort.Slice(resp.Results, func(i, j int) bool {
		a, b := resp.Results[i], resp.Results[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.RankFusion != b.RankFusion {
			return a.RankFusion > b.RankFusion
		}
		return a.VideoID < b.VideoID
	})
	if len(resp.Results) > opts.Limit {
		resp.Results = resp.Results[:opts.Limit]
	}
	return resp
}
