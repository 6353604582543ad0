package decode

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PolicyKind says how frames are chosen for sampling.
type PolicyKind string

const (
	// PolicyFPS samples a frame every 1/FPS seconds: the first frame shown
	// at or after each grid time. Frames between grid times are decoded
	// (they must be) but never colour-converted.
	PolicyFPS PolicyKind = "fps"
	// PolicyKeyframes samples every keyframe, and tells the decoder to
	// discard every other frame, so most of the stream is never decoded.
	PolicyKeyframes PolicyKind = "keyframes"
	// PolicyScenes samples the first frame of every shot, found by a cheap
	// luma difference on a 32×32 thumbnail of each frame, plus a frame
	// whenever MaxInterval passes within a shot.
	PolicyScenes PolicyKind = "scenes"
)

// Policy is a sampling policy. Its text form, for flags and job fields, is
// "fps=N", "keyframes" or "scenes" (optionally "scenes=THRESHOLD").
type Policy struct {
	Kind PolicyKind
	// FPS is the rate of PolicyFPS. Defaults to 1.
	FPS float64
	// SceneThreshold is the mean absolute luma difference, in [0, 1],
	// between consecutive thumbnails that makes a shot boundary. Defaults to
	// 0.12.
	SceneThreshold float64
	// MaxInterval is the longest time PolicyScenes goes without a sample.
	// Defaults to 10s.
	MaxInterval time.Duration
}

// ParsePolicy reads a policy's text form.
func ParsePolicy(s string) (Policy, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), "=")
	switch PolicyKind(name) {
	case PolicyFPS:
		p := Policy{Kind: PolicyFPS, FPS: 1}
		if hasArg {
			f, err := strconv.ParseFloat(arg, 64)
			if err != nil || f <= 0 || f > 120 {
				return Policy{}, fmt.Errorf("sampling policy %q: fps must be a number in (0, 120]", s)
			}
			p.FPS = f
		}
		return p, nil
	case PolicyKeyframes:
		if hasArg {
			return Policy{}, fmt.Errorf("sampling policy %q: keyframes takes no value", s)
		}
		return Policy{Kind: PolicyKeyframes}, nil
	case PolicyScenes:
		p := Policy{Kind: PolicyScenes}
		if hasArg {
			f, err := strconv.ParseFloat(arg, 64)
			if err != nil || f <= 0 || f >= 1 {
				return Policy{}, fmt.Errorf("sampling policy %q: scene threshold must be in (0, 1)", s)
			}
			p.SceneThreshold = f
		}
		return p, nil
	}
	return Policy{}, fmt.Errorf("sampling policy %q: want fps=N, keyframes or scenes", s)
}

func (p Policy) String() string {
	switch p.Kind {
	case PolicyFPS:
		return "fps=" + strconv.FormatFloat(p.FPS, 'g', -1, 64)
	case PolicyScenes:
		if p.SceneThreshold > 0 {
			return "scenes=" + strconv.FormatFloat(p.SceneThreshold, 'g', -1, 64)
		}
	}
	return string(p.Kind)
}

func (p Policy) withDefaults() Policy {
	if p.Kind == "" {
		p.Kind = PolicyFPS
	}
	if p.FPS <= 0 {
		p.FPS = 1
	}
	if p.SceneThreshold <= 0 {
		p.SceneThreshold = 0.12
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = 10 * time.Second
	}
	return p
}

// PixelFormat is the layout of a sampled image.
type PixelFormat string

const (
	Gray  PixelFormat = "gray"  // 1 byte per pixel
	RGB24 PixelFormat = "rgb24" // 3 bytes per pixel, R G B
)

// BytesPerPixel of the format.
func (f PixelFormat) BytesPerPixel() int {
	if f == RGB24 {
		return 3
	}
	return 1
}

// FrameSpec is one image size and layout an encoder asks for. Every sampled
// frame is converted once per spec, from the one decode.
//
// Height 0 keeps the video's display aspect ratio: the height is worked out
// from the first video stream (after rotation) and rounded to even, and the
// Image carries the size it got. Thumbnails use it.
type FrameSpec struct {
	Width, Height int
	Format        PixelFormat
	// Every, when above 1, converts this image only for every Every-th
	// sampled frame (the first, then every Every-th after it); the other
	// frames carry an Image with no Data. A large image that only some
	// frames need (OCR) then costs neither the conversion nor the memory
	// for the rest.
	Every int
	// MaxImages, when set, raises Every so that about this many images are
	// made, spread over the whole video (from its duration and the
	// sampling rate).
	MaxImages int
	// ShortSide, when set, sizes the image so that its shorter side is
	// ShortSide pixels, keeping the aspect ratio (Width and Height are
	// ignored): a model that resizes its shorter side and crops gets no
	// more pixels than it uses.
	ShortSide int
}

// Config sets how a source is sampled and what limits it must respect.
// The zero value is usable: every zero field takes its default.
type Config struct {
	// Sampling chooses which frames are sampled. Defaults to fps=1.
	Sampling Policy
	// Frames lists the images made of each sampled frame. Defaults to one
	// 64×64 grey image.
	Frames []FrameSpec
	// MaxFrames caps the sampled frames per video. Defaults to 1000.
	MaxFrames int
	// AudioRate is the sample rate audio is resampled to (mono float32).
	// Defaults to 16000. NoAudio skips the audio track; NoVideo skips
	// frames.
	AudioRate int
	NoAudio   bool
	NoVideo   bool
	// NoText skips subtitle streams.
	NoText bool
	// ContentHash computes the SHA-256 of the source's bytes as they are
	// read (Media.ContentSHA256): the bytes FFmpeg reads in order are
	// hashed on the way, and whatever it skipped is read after it. A
	// source that cannot seek and was not read to its end gets none.
	ContentHash bool
	// Roots, when not empty, are the only directories file sources may be
	// read from (after resolving symbolic links).
	Roots []string
	// HTTP is the policy for http(s) sources.
	HTTP HTTPPolicy
	// MaxBytes is the largest source accepted. Defaults to 2 GiB.
	MaxBytes int64
	// MaxDuration is the longest video accepted. Defaults to 2h.
	MaxDuration time.Duration
	// MaxPixels is the largest frame (width×height) accepted. Defaults to
	// 8192×8192.
	MaxPixels int
	// Threads is the video decoder's thread count; 0 lets FFmpeg choose
	// (one per core). A worker running N jobs at once should set about
	// cores/N.
	Threads int
}

func (c Config) withDefaults() Config {
	c.Sampling = c.Sampling.withDefaults()
	if len(c.Frames) == 0 {
		c.Frames = []FrameSpec{{Width: 64, Height: 64, Format: Gray}}
	}
	for i := range c.Frames {
		if c.Frames[i].Format == "" {
			c.Frames[i].Format = Gray
		}
	}
	if c.MaxFrames <= 0 {
		c.MaxFrames = 1000
	}
	if c.AudioRate <= 0 {
		c.AudioRate = 16000
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 2 << 30
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = 2 * time.Hour
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = 8192 * 8192
	}
	c.HTTP = c.HTTP.withDefaults()
	return c
}

func (c Config) validate() error {
	for i, f := range c.Frames {
		if f.Every < 0 || f.MaxImages < 0 || f.ShortSide < 0 || f.ShortSide > 4096 {
			return fmt.Errorf("Frames[%d]: Every %d, MaxImages %d, ShortSide %d", i, f.Every, f.MaxImages, f.ShortSide)
		}
		if f.ShortSide > 0 {
			continue
		}
		if f.Width <= 0 || f.Height < 0 || f.Width > 4096 || f.Height > 4096 {
			return fmt.Errorf("Frames[%d]: size %dx%d out of range", i, f.Width, f.Height)
		}
		if f.Format != Gray && f.Format != RGB24 {
			return fmt.Errorf("Frames[%d]: unknown format %q", i, f.Format)
		}
	}
	return nil
}
