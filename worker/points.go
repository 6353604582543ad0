package worker

import (
	"slices"
	"strings"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
)

// Points turns an analysed video into its segment points and its one
// video-level point (the pooled vector of each space).
func Points(job queue.Job, res *analyze.Result, now time.Time) (segments []index.Point, video index.Point) {
	var fields map[string]string
	title := ""
	if job.Text != nil && job.Text.Title != "" {
		title = job.Text.Title
		fields = map[string]string{"title": title}
	}
	unsafe := res.Safety != nil && res.Safety.Unsafe
	for _, s := range res.Segments {
		p := index.Point{
			ID: index.SegmentID(job.VideoID, s.Space, s.Ordinal),
			Payload: index.Payload{
				VideoID: job.VideoID, Space: s.Space, Modality: s.Modality,
				TStart: s.Start.Seconds(), TEnd: s.End.Seconds(), Text: s.Text, Words: TimedWords(s.Words), Confidence: float64(s.Confidence), Speech: float64(s.Speech),
				Labels: s.Labels, Source: job.Source, IndexedAt: now, Safety: classScores(s.Safety), Unsafe: unsafe,
			},
		}
		if s.Vector != nil {
			p.Vectors = map[string][]float32{s.Space: s.Vector}
		}
		if s.Sparse != nil {
			p.Sparse = map[string]index.SparseVector{s.Space: sparse(*s.Sparse)}
		}
		segments = append(segments, p)
	}
	video = index.Point{
		ID:      index.VideoID(job.VideoID),
		Vectors: res.Pooled,
		Payload: index.Payload{
			VideoID: job.VideoID, Modality: "video", TStart: 0, TEnd: res.Info.Duration.Seconds(),
			Text: title, Source: job.Source, IndexedAt: now, Fields: fields,
			Labels: analyze.Labels(res.Objects), Safety: SafetyScores(res.Safety), Unsafe: unsafe,
		},
	}
	if len(res.PooledSparse) > 0 {
		video.Sparse = map[string]index.SparseVector{}
		for space, sv := range res.PooledSparse {
			video.Sparse[space] = sparse(sv)
		}
	}
	return segments, video
}

func sparse(s encoders.Sparse) index.SparseVector {
	return index.SparseVector{Indices: s.Indices, Values: s.Values}
}

// Schemas are the index schemas of the segments and videos collections for
// the given spaces (an Analyzer's): every space is a named vector in both.
func Schemas(spaces []analyze.SpaceInfo) (segments, videos index.Schema) {
	s := index.Schema{Dense: map[string]int{}}
	for _, sp := range spaces {
		if sp.Sparse {
			s.Sparse = append(s.Sparse, sp.Name)
		} else {
			s.Dense[sp.Name] = sp.Dim
		}
	}
	return s, s
}

// restrict keeps of each point the vectors schema holds (all of them for
// the zero Schema) and drops points left without any.
func restrict(pts []index.Point, schema index.Schema) []index.Point {
	all := len(schema.Dense) == 0 && len(schema.Sparse) == 0
	out := make([]index.Point, 0, len(pts))
	for _, p := range pts {
		if !all {
			q := p
			q.Vectors, q.Sparse = nil, nil
			for name, v := range p.Vectors {
				if _, ok := schema.Dense[name]; ok {
					if q.Vectors == nil {
						q.Vectors = map[string][]float32{}
					}
					q.Vectors[name] = v
				}
			}
			for name, sv := range p.Sparse {
				if slices.Contains(schema.Sparse, name) {
					if q.Sparse == nil {
						q.Sparse = map[string]index.SparseVector{}
					}
					q.Sparse[name] = sv
				}
			}
			p = q
		}
		if len(p.Vectors) > 0 || len(p.Sparse) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// labelSummary is the label summary of an event: label → frames seen in.
func labelSummary(res *analyze.Result) map[string]int {
	if len(res.Objects) == 0 {
		return nil
	}
	m := make(map[string]int, len(res.Objects))
	for _, o := range res.Objects {
		m[o.Label] = o.Frames
	}
	return m
}

// classScores are a frame's content-safety probabilities by class, lower
// case ("porn": 0.01); none when the frame was not classified.
func classScores(probs []float32) map[string]float64 {
	if len(probs) != len(encoders.NSFWClasses) {
		return nil
	}
	m := make(map[string]float64, len(probs))
	for c, name := range encoders.NSFWClasses {
		m[strings.ToLower(name)] = float64(probs[c])
	}
	return m
}

// SafetyScores are a video's content-safety summary as payload scores:
// "CLASS_max" and "CLASS_share" per class, and "unsafe_frames"; none when
// the video was not classified. search reads them back (search.SafetyOf).
func SafetyScores(s *analyze.Safety) map[string]float64 {
	if s == nil {
		return nil
	}
	m := map[string]float64{"unsafe_frames": float64(s.UnsafeFrames), "frames": float64(s.Frames)}
	for _, name := range encoders.NSFWClasses {
		k := strings.ToLower(name)
		m[k+"_max"] = float64(s.Max[name])
		m[k+"_share"] = s.Share[name]
	}
	return m
}

// TimedWords are a segment's word times as the index keeps them, in
// seconds.
func TimedWords(words []analyze.TimedWord) []index.TimedWord {
	if words == nil {
		return nil
	}
	out := make([]index.TimedWord, len(words))
	for i, w := range words {
		out[i] = index.TimedWord{Text: w.Text, TStart: w.Start.Seconds(), TEnd: w.End.Seconds()}
	}
	return out
}
