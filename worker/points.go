package worker

import (
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
	for _, s := range res.Segments {
		p := index.Point{
			ID: index.SegmentID(job.VideoID, s.Space, s.Ordinal),
			Payload: index.Payload{
				VideoID: job.VideoID, Space: s.Space, Modality: s.Modality,
				TStart: s.Start.Seconds(), TEnd: s.End.Seconds(), Text: s.Text, Speech: float64(s.Speech),
				Source: job.Source, IndexedAt: now,
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
