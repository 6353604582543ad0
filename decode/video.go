package decode

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"
)

// thumbSize is the side of the grey thumbnail the scenes policy compares.
const thumbSize = 32

type videoState struct {
	stream     *astiav.Stream
	codec      *astiav.CodecContext
	rotation   int
	step       time.Duration // fps policy: time between samples
	next       time.Duration // fps policy: next grid time
	converters []*converter
	specs      []FrameSpec // Config.Frames with every height resolved
	thumb      *converter  // scenes policy
	prevThumb  []byte
	lastSample time.Duration
	skip       *skipper // nil when every frame is decoded in full
	// changeThumb makes the thumbnails Change specs compare; made[i] is
	// the thumbnail and time of the frame spec i was last made of.
	changeThumb *converter
	made        []madeImage
}

// madeImage is the frame a Change spec's image was last made of.
type madeImage struct {
	thumb []byte
	t     time.Duration
}

// novel reports whether spec i's image is to be made of the frame at t
// with the grey thumbnail thumb (FrameSpec.Change), and if so records it.
func (v *videoState) novel(i int, thumb []byte, t time.Duration) bool {
	spec, m := v.specs[i], &v.made[i]
	if m.thumb != nil && meanAbsDiff(m.thumb, thumb) < spec.Change && (spec.MaxGap == 0 || t-m.t < spec.MaxGap) {
		return false
	}
	m.thumb, m.t = append(m.thumb[:0], thumb...), t
	return true
}

// converter scales frames to one spec, re-creating its swscale context when
// the source size or pixel format changes mid-stream.
type converter struct {
	w, h   int
	format astiav.PixelFormat
	flags  astiav.SoftwareScaleContextFlags
	sws    *astiav.SoftwareScaleContext
	key    [3]int
	dst    *astiav.Frame
}

func (c *converter) convert(src *astiav.Frame) ([]byte, error) {
	key := [3]int{src.Width(), src.Height(), int(src.PixelFormat())}
	if c.sws == nil || c.key != key {
		if c.sws != nil {
			c.sws.Free()
			c.sws = nil
		}
		sws, err := astiav.CreateSoftwareScaleContext(key[0], key[1], src.PixelFormat(), c.w, c.h, c.format, c.flags)
		if err != nil {
			return nil, err
		}
		c.sws, c.key = sws, key
	}
	if c.dst == nil {
		c.dst = astiav.AllocFrame()
	}
	c.dst.Unref()
	if err := c.sws.ScaleFrame(src, c.dst); err != nil {
		return nil, err
	}
	return c.dst.Data().Bytes(1)
}

func (c *converter) free() {
	if c.sws != nil {
		c.sws.Free()
	}
	if c.dst != nil {
		c.dst.Free()
	}
}

func (d *decoder) openVideo(s *astiav.Stream) (*videoState, error) {
	opts := map[string]string{"threads": "auto", "max_pixels": strconv.Itoa(d.cfg.MaxPixels)}
	if d.cfg.Threads > 0 {
		opts["threads"] = strconv.Itoa(d.cfg.Threads)
	}
	if d.cfg.Sampling.Kind == PolicyKeyframes {
		// The decoder drops every frame that is not a keyframe before
		// decoding it.
		opts["skip_frame"] = "nokey"
	}
	cc, err := d.openCodec(s, "video", opts)
	if err != nil {
		return nil, err
	}
	v := &videoState{stream: s, codec: cc, rotation: streamRotation(s), next: 0}
	v.step = time.Duration(float64(time.Second) / d.cfg.Sampling.FPS)
	if v.skip = newSkipper(d.cfg, v); v.skip != nil {
		d.onClose(v.skip.free)
	}
	for _, spec := range d.cfg.Frames {
		cw, ch := s.CodecParameters().Width(), s.CodecParameters().Height()
		switch {
		case spec.ShortSide > 0:
			spec.Width, spec.Height = shortSide(spec.ShortSide, cw, ch, v.rotation)
		case spec.Height == 0:
			spec.Height = aspectHeight(spec.Width, cw, ch, v.rotation)
		}
		if spec.MaxImages > 0 {
			// How many frames the policy will sample: from the duration
			// at fps=N; the frame cap otherwise.
			expect := d.cfg.MaxFrames
			if d.cfg.Sampling.Kind == PolicyFPS && d.media.Info.Duration > 0 {
				expect = min(expect, int(math.Ceil(d.media.Info.Duration.Seconds()*d.cfg.Sampling.FPS))+1)
			}
			spec.Every = max(spec.Every, (expect+spec.MaxImages-1)/spec.MaxImages)
		}
		v.specs = append(v.specs, spec)
		w, h := spec.Width, spec.Height
		if v.rotation == 90 || v.rotation == 270 {
			w, h = h, w // scale to the stored orientation, then rotate
		}
		pf := astiav.PixelFormatGray8
		if spec.Format == RGB24 {
			pf = astiav.PixelFormatRgb24
		}
		c := &converter{w: w, h: h, format: pf, flags: astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagArea)}
		v.converters = append(v.converters, c)
		d.onClose(c.free)
	}
	v.made = make([]madeImage, len(v.specs))
	if slices.ContainsFunc(v.specs, func(s FrameSpec) bool { return s.Change > 0 }) {
		// Area-averaged, unlike the scenes policy's: it compares frames
		// a second or more apart, where point samples of fine detail
		// would differ at the smallest move.
		v.changeThumb = &converter{w: thumbSize, h: thumbSize, format: astiav.PixelFormatGray8,
			flags: astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagArea)}
		d.onClose(v.changeThumb.free)
	}
	if d.cfg.Sampling.Kind == PolicyScenes {
		v.thumb = &converter{w: thumbSize, h: thumbSize, format: astiav.PixelFormatGray8,
			flags: astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagPoint)}
		d.onClose(v.thumb.free)
	}
	return v, nil
}

// decodeVideo sends one packet (nil flushes) and samples the frames that
// come out.
func (d *decoder) decodeVideo(pkt *astiav.Packet, frame *astiav.Frame) error {
	v := d.video
	if err := v.codec.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		// A corrupt packet in the middle of a stream is common in the wild:
		// skip it, as the ffmpeg CLI does, and judge the whole file by
		// whether any frame decodes.
		slog.Debug("decode: bad video packet", "source", d.src, "err", err)
		return nil
	}
	for !d.framesDone {
		err := v.codec.ReceiveFrame(frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			slog.Debug("decode: bad video frame", "source", d.src, "err", err)
			return nil
		}
		err = d.consider(frame)
		frame.Unref()
		if err != nil {
			return err
		}
	}
	return nil
}

// consider applies the sampling policy to one decoded frame.
func (d *decoder) consider(frame *astiav.Frame) error {
	v := d.video
	if frame.Width()*frame.Height() > d.cfg.MaxPixels {
		return d.fail(KindLimit, "decode video", fmt.Errorf("frame %dx%d exceeds %d pixels", frame.Width(), frame.Height(), d.cfg.MaxPixels))
	}
	t := streamTime(v.stream, frameTimestamp(frame))
	if t < 0 {
		return nil
	}
	take := false
	switch d.cfg.Sampling.Kind {
	case PolicyFPS:
		if t >= v.next {
			take = true
			// Advance to the first grid point after t, so a gap in the
			// stream does not produce a burst of samples.
			v.next = (t/v.step + 1) * v.step
		}
	case PolicyKeyframes:
		take = true
	case PolicyScenes:
		thumb, err := v.thumb.convert(frame)
		if err != nil {
			return d.fail(KindInvalid, "scale", err)
		}
		switch {
		case v.prevThumb == nil:
			take = true
		case meanAbsDiff(v.prevThumb, thumb) > d.cfg.Sampling.SceneThreshold:
			take = true
		case t-v.lastSample >= d.cfg.Sampling.MaxInterval:
			take = true
		}
		v.prevThumb = append(v.prevThumb[:0], thumb...)
	}
	if !take {
		return nil
	}
	f := Frame{T: t, Key: frame.KeyFrame()}
	var thumb []byte // for Change specs, made when the first needs it
	for i, c := range v.converters {
		spec := v.specs[i]
		if spec.Every > 1 && len(d.media.Frames)%spec.Every != 0 {
			f.Images = append(f.Images, Image{Spec: spec})
			continue
		}
		if spec.Change > 0 {
			if thumb == nil {
				b, err := v.changeThumb.convert(frame)
				if err != nil {
					return d.fail(KindInvalid, "scale", err)
				}
				thumb = b
			}
			if !v.novel(i, thumb, t) {
				f.Images = append(f.Images, Image{Spec: spec})
				continue
			}
		}
		b, err := c.convert(frame)
		if err != nil {
			return d.fail(KindInvalid, "scale", err)
		}
		f.Images = append(f.Images, Image{Spec: spec, Data: rotate(b, c.w, c.h, spec.Format.BytesPerPixel(), v.rotation)})
	}
	d.media.Frames = append(d.media.Frames, f)
	v.lastSample = t
	if len(d.media.Frames) >= d.cfg.MaxFrames {
		d.framesDone = true
	}
	return nil
}

// meanAbsDiff is the mean absolute difference of two grey images, in [0, 1].
func meanAbsDiff(a, b []byte) float64 {
	var sum int
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a)) / 255
}

// rotate turns a packed w×h image clockwise by deg (0, 90, 180 or 270).
func rotate(src []byte, w, h, bpp, deg int) []byte {
	if deg == 0 {
		return src
	}
	dst := make([]byte, len(src))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var o int
			switch deg {
			case 90: // out is h wide, w tall
				o = x*h + (h - 1 - y)
			case 180:
				o = (h-1-y)*w + (w - 1 - x)
			case 270:
				o = (w-1-x)*h + y
			}
			copy(dst[o*bpp:(o+1)*bpp], src[(y*w+x)*bpp:(y*w+x+1)*bpp])
		}
	}
	return dst
}

// aspectHeight is the even height that keeps a w-wide image at the display
// aspect ratio of a srcW×srcH stream shown rotated by rotation degrees.
func aspectHeight(w, srcW, srcH, rotation int) int {
	if rotation == 90 || rotation == 270 {
		srcW, srcH = srcH, srcW
	}
	if srcW <= 0 || srcH <= 0 {
		return w
	}
	h := int(math.Round(float64(w)*float64(srcH)/float64(srcW)/2)) * 2
	return min(max(h, 2), 4096)
}

// shortSide is the even size that keeps a srcW×srcH stream's display aspect
// ratio (after rotation) with its shorter side s.
func shortSide(s, srcW, srcH, rotation int) (int, int) {
	if rotation == 90 || rotation == 270 {
		srcW, srcH = srcH, srcW
	}
	if srcW <= 0 || srcH <= 0 {
		return s, s
	}
	long := func(l, sh int) int { return min(4096, max(2, int(math.Round(float64(s)*float64(l)/float64(sh)/2))*2)) }
	if srcW < srcH {
		return s, long(srcH, srcW)
	}
	return long(srcW, srcH), s
}
