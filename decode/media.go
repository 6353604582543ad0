package decode

import "time"

// Info is what the container says about the source.
type Info struct {
	Duration   time.Duration     `json:"duration"`
	Size       int64             `json:"size"`
	Format     string            `json:"format"`
	VideoCodec string            `json:"video_codec,omitempty"`
	AudioCodec string            `json:"audio_codec,omitempty"`
	Width      int               `json:"width,omitempty"`  // as displayed, after rotation
	Height     int               `json:"height,omitempty"` // as displayed, after rotation
	Rotation   int               `json:"rotation,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Streams    []Stream          `json:"streams"`
}

// Stream describes one stream of the container.
type Stream struct {
	Index      int     `json:"index"`
	Type       string  `json:"type"` // video, audio, subtitle, data
	Codec      string  `json:"codec"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	Rotation   int     `json:"rotation,omitempty"` // degrees clockwise to display
	SampleRate int     `json:"sample_rate,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	Language   string  `json:"language,omitempty"`
}

// Image is one sampled frame converted to one FrameSpec.
type Image struct {
	Spec FrameSpec
	Data []byte // Width*Height*BytesPerPixel, row-major, packed
}

// Frame is one sampled video frame, as displayed (rotation applied), in
// every requested FrameSpec.
type Frame struct {
	T      time.Duration // presentation time from the start of the video
	Key    bool          // a keyframe
	Images []Image       // in the order of Config.Frames
}

// Audio is the whole audio track as mono float32 samples in [-1, 1].
type Audio struct {
	SampleRate int
	Samples    []float32
}

// AudioWindow is a time window of an audio track.
type AudioWindow struct {
	Start, End time.Duration
	Samples    []float32 // a sub-slice of Audio.Samples
}

// Windows cuts the track into windows of length window every hop. The last
// window may be shorter; a track shorter than hop gives one window, and an
// empty track none.
func (a Audio) Windows(window, hop time.Duration) []AudioWindow {
	if a.SampleRate <= 0 || len(a.Samples) == 0 || window <= 0 || hop <= 0 {
		return nil
	}
	w := int(window.Seconds() * float64(a.SampleRate))
	h := max(1, int(hop.Seconds()*float64(a.SampleRate)))
	var out []AudioWindow
	for start := 0; start < len(a.Samples); start += h {
		end := min(start+w, len(a.Samples))
		out = append(out, AudioWindow{
			Start:   a.time(start),
			End:     a.time(end),
			Samples: a.Samples[start:end],
		})
		if end == len(a.Samples) {
			break
		}
	}
	return out
}

func (a Audio) time(sample int) time.Duration {
	return time.Duration(float64(sample) / float64(a.SampleRate) * float64(time.Second))
}

// Cue is a timed piece of text: a subtitle cue, or container metadata
// (which spans the whole video).
type Cue struct {
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	Text   string        `json:"text"`
	Source string        `json:"source"` // "metadata:title", "subtitle:2:eng", …
}

// Media is everything decode extracts from one source.
type Media struct {
	Info   Info
	Frames []Frame
	Audio  Audio
	Text   []Cue
	// ContentSHA256 is the hex SHA-256 of the whole source, when
	// Config.ContentHash asked for it and it could be had.
	ContentSHA256 string
}
