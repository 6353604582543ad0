package worker

import (
	"context"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
)

// Metrics are the worker's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	jobs         *prometheus.CounterVec
	stages       *prometheus.HistogramVec
	frames       prometheus.Counter
	audioSeconds prometheus.Counter
	inFlight     prometheus.Gauge
	pending      *prometheus.GaugeVec
}

// NewMetrics registers the worker's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediavec_jobs_total", Help: "Jobs settled, by outcome (indexed, failed, retried, released) and dead-letter cause.",
		}, []string{"outcome", "cause"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mediavec_stage_seconds", Help: "Time a job spent in each stage (decode, encode, ocr, index).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5 ms … 41 s
		}, []string{"stage"}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mediavec_frames_total", Help: "Video frames sampled and embedded; rate() gives frames/s.",
		}),
		audioSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mediavec_audio_seconds_total", Help: "Seconds of audio embedded; rate() gives audio-seconds/s.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mediavec_jobs_in_flight", Help: "Jobs this worker is running.",
		}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mediavec_lane_pending", Help: "Jobs waiting on each lane (the consumer's pending count).",
		}, []string{"lane"}),
	}
	reg.MustRegister(m.jobs, m.stages, m.frames, m.audioSeconds, m.inFlight, m.pending)
	return m
}

// RegisterBatcher exposes a model batcher's counts: rate(items)/rate(batches)
// is the mean batch size.
func RegisterBatcher(reg prometheus.Registerer, model string, stats func() encoders.BatchStats) {
	labels := prometheus.Labels{"model": model}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mediavec_encoder_batches_total", Help: "Session calls made by a model's batcher.", ConstLabels: labels,
		}, func() float64 { return float64(stats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mediavec_encoder_batch_items_total", Help: "Items run through a model's batcher.", ConstLabels: labels,
		}, func() float64 { return float64(stats().Items) }),
	)
}

// Names lists the names of the metrics m exports (histograms also export
// _bucket, _sum and _count), whether or not any has a value yet.
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 16)
	go func() {
		for _, c := range []prometheus.Collector{m.jobs, m.stages, m.frames, m.audioSeconds, m.inFlight, m.pending} {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if mm := re.FindStringSubmatch(d.String()); mm != nil {
			names = append(names, mm[1])
		}
	}
	return names
}

func (m *Metrics) settled(outcome, cause string) {
	if m != nil {
		m.jobs.WithLabelValues(outcome, cause).Inc()
	}
}

func (m *Metrics) running(delta float64) {
	if m != nil {
		m.inFlight.Add(delta)
	}
}

// indexed records what an indexed job did.
func (m *Metrics) indexed(res *analyze.Result) {
	if m == nil {
		return
	}
	for stage, d := range res.Timings {
		m.stages.WithLabelValues(stage).Observe(d.Seconds())
	}
	for _, s := range res.Segments {
		switch s.Modality {
		case "frame":
			if s.Space == encoders.SpaceFrameDCT {
				m.frames.Inc()
			}
		case "audio":
			m.audioSeconds.Add((s.End - s.Start).Seconds())
		}
	}
}

// watchLanes keeps the pending gauges current until ctx ends.
func (m *Metrics) watchLanes(ctx context.Context, lanes map[string]jetstream.Consumer, every time.Duration) {
	if m == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for name, c := range lanes {
			if c == nil {
				continue
			}
			if info, err := c.Info(ctx); err == nil {
				m.pending.WithLabelValues(name).Set(float64(info.NumPending))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
