package worker

import (
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
)

// points turns an analysed video into its segment points and its one
// video-level point (the pooled vector of each space).
func points(job queue.Job, res *analyze.Result, now time.Time) (segments []index.Point, video index.Point) {
	var fields map[string]string
	if job.Text != nil && job.Text.Title != "" {
		fields = map[string]string{"title": job.Text.Title}
	}
	for _, s := range res.Segments {
		segments = append(segments, index.Point{
			ID:      index.SegmentID(job.VideoID, s.Space, s.Ordinal),
			Vectors: map[string][]float32{s.Space: s.Vector},
			Payload: index.Payload{
				VideoID: job.VideoID, Space: s.Space, Modality: s.Modality,
				TStart: s.Start.Seconds(), TEnd: s.End.Seconds(),
				Source: job.Source, IndexedAt: now,
			},
		})
	}
	video = index.Point{
		ID:      index.VideoID(job.VideoID),
		Vectors: res.Pooled,
		Payload: index.Payload{
			VideoID: job.VideoID, Modality: "video", TStart: 0, TEnd: res.Info.Duration.Seconds(),
			Source: job.Source, IndexedAt: now, Fields: fields,
		},
	}
	return segments, video
}
