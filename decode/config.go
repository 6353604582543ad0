package decode

import (
	"cmp"
	"fmt"
	"slices"
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
		p := Policy{Kind: PolicyFPS, FPS: DefaultFPS}
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

// DefaultSampling is the sampling policy a zero Policy means, in its text
// form.
const DefaultSampling = "fps=1"

// The defaults of Policy.
const (
	DefaultFPS            = 1.0
	DefaultSceneThreshold = 0.12
	DefaultMaxInterval    = 10 * time.Second
)

func (p Policy) withDefaults() Policy {
	p.Kind = cmp.Or(p.Kind, PolicyFPS)
	p.FPS = cmp.Or(p.FPS, DefaultFPS)
	p.SceneThreshold = cmp.Or(p.SceneThreshold, DefaultSceneThreshold)
	p.MaxInterval = cmp.Or(p.MaxInterval, DefaultMaxInterval)
	return p
}

// Validate checks a policy made in code (ParsePolicy checks the text form).
func (p Policy) Validate() error {
	switch p.Kind {
	case "", PolicyFPS, PolicyKeyframes, PolicyScenes:
	default:
		return fmt.Errorf("sampling policy %q: want fps, keyframes or scenes", p.Kind)
	}
	switch {
	case p.FPS < 0 || p.FPS > 120:
		return fmt.Errorf("sampling fps %v is not in (0, 120]", p.FPS)
	case p.SceneThreshold < 0 || p.SceneThreshold >= 1:
		return fmt.Errorf("scene threshold %v is not in (0, 1)", p.SceneThreshold)
	case p.MaxInterval < 0:
		return fmt.Errorf("scene MaxInterval %s is negative", p.MaxInterval)
	}
	return nil
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
	// Change, when set, makes this image only of a sampled frame that
	// shows something new: one that differs from the last frame it was
	// made of by at least Change (the mean absolute difference of their
	// 32×32 grey thumbnails, in [0, 1]; the scenes policy takes 0.12
	// for a cut), or that comes MaxGap or more after it. A costly model reading
	// the image then runs once per shot and change, not once per frame,
	// and each frame it sees stands for those up to the next.
	Change float64
	MaxGap time.Duration
}

// Config sets how a source is sampled and what limits it must respect.
// The zero value is usable: every zero field takes its default.
type Config struct {
	// Sampling chooses which frames are sampled. Defaults to fps=1.
	Sampling Policy
	// Frames lists the images made of each sampled frame. Defaults to one
	// 64×64 grey image.
	Frames []FrameSpec
	// MaxFrames caps the sampled frames per video. Defaults to
	// DefaultMaxFrames (1000).
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
	// MaxBytes is the largest source accepted. Defaults to
	// DefaultMaxBytes (2 GiB).
	MaxBytes int64
	// MaxDuration is the longest video accepted. Defaults to
	// DefaultMaxDuration (2h).
	MaxDuration time.Duration
	// MaxPixels is the largest frame (width×height) accepted. Defaults to
	// 8192×8192.
	MaxPixels int
	// Threads is the video decoder's thread count; 0 lets FFmpeg choose
	// (one per core). A worker running N jobs at once should set about
	// cores/N.
	Threads int
	// FullDecode decodes every frame. By default the decoder skips what
	// sampling does not need (skip.go): at fps=N, frames between grid
	// times that no sampled frame refers to. The sampled frames are the
	// same either way, pixel for pixel.
	FullDecode bool
}

// The defaults of Config.
const (
	DefaultMaxFrames   = 1000
	DefaultAudioRate   = 16000
	DefaultMaxBytes    = 2 << 30
	DefaultMaxDuration = 2 * time.Hour
	DefaultMaxPixels   = 8192 * 8192
)

// DefaultFrame is the image Config.Frames defaults to.
var DefaultFrame = FrameSpec{Width: 64, Height: 64, Format: Gray}

func (c Config) withDefaults() Config {
	c.Sampling = c.Sampling.withDefaults()
	if len(c.Frames) == 0 {
		c.Frames = []FrameSpec{DefaultFrame}
	}
	c.Frames = slices.Clone(c.Frames)
	for i := range c.Frames {
		c.Frames[i].Format = cmp.Or(c.Frames[i].Format, Gray)
	}
	c.MaxFrames = cmp.Or(c.MaxFrames, DefaultMaxFrames)
	c.AudioRate = cmp.Or(c.AudioRate, DefaultAudioRate)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.MaxDuration = cmp.Or(c.MaxDuration, DefaultMaxDuration)
	c.MaxPixels = cmp.Or(c.MaxPixels, DefaultMaxPixels)
	c.HTTP = c.HTTP.withDefaults()
	return c
}

// Validate checks a configuration, naming the first bad field. Zero fields
// are valid: they take their defaults.
func (c Config) Validate() error {
	if err := c.Sampling.Validate(); err != nil {
		return fmt.Errorf("decode: Sampling: %w", err)
	}
	switch {
	case c.MaxFrames < 0:
		return fmt.Errorf("decode: MaxFrames %d is negative", c.MaxFrames)
	case c.AudioRate < 0:
		return fmt.Errorf("decode: AudioRate %d is negative", c.AudioRate)
	case c.MaxBytes < 0:
		return fmt.Errorf("decode: MaxBytes %d is negative", c.MaxBytes)
	case c.MaxDuration < 0:
		return fmt.Errorf("decode: MaxDuration %s is negative", c.MaxDuration)
	case c.MaxPixels < 0:
		return fmt.Errorf("decode: MaxPixels %d is negative", c.MaxPixels)
	case c.Threads < 0:
		return fmt.Errorf("decode: Threads %d is negative", c.Threads)
	case c.HTTP.ConnectTimeout < 0 || c.HTTP.ReadTimeout < 0:
		return fmt.Errorf("decode: HTTP timeouts %s, %s: negative", c.HTTP.ConnectTimeout, c.HTTP.ReadTimeout)
	}
	return c.validateFrames()
}

// validateFrames checks the image specs (with their defaults filled).
func (c Config) validateFrames() error {
	for i, f := range c.Frames {
		if f.Every < 0 || f.MaxImages < 0 || f.ShortSide < 0 || f.ShortSide > 4096 {
			return fmt.Errorf("decode: Frames[%d]: Every %d, MaxImages %d, ShortSide %d", i, f.Every, f.MaxImages, f.ShortSide)
		}
		if f.Change < 0 || f.Change > 1 || f.MaxGap < 0 {
			return fmt.Errorf("decode: Frames[%d]: Change %v is not in [0, 1] or MaxGap %s is negative", i, f.Change, f.MaxGap)
		}
		if f.ShortSide > 0 {
			continue
		}
		if f.Width <= 0 || f.Height < 0 || f.Width > 4096 || f.Height > 4096 {
			return fmt.Errorf("decode: Frames[%d]: size %dx%d out of range", i, f.Width, f.Height)
		}
		if f.Format != Gray && f.Format != RGB24 {
			return fmt.Errorf("decode: Frames[%d]: unknown format %q", i, f.Format)
		}
	}
	return nil
}
