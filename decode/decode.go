package decode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
)

// Config sets how a source is sampled and what limits it must respect.
// The zero value is usable: every zero field takes its default.
type Config struct {
	// FrameInterval is the time between sampled frames. Defaults to 1s (1 fps).
	FrameInterval time.Duration
	// FrameSize is the side of the square grey image each sampled frame is
	// scaled to. Defaults to 64.
	FrameSize int
	// AudioRate is the sample rate audio is resampled to (mono float32).
	// Defaults to 16000. Set NoAudio to skip the audio track.
	AudioRate int
	NoAudio   bool
	// Roots, when not empty, are the only directories sources may be read
	// from (after resolving symbolic links).
	Roots []string
	// MaxBytes is the largest source file accepted. Defaults to 2 GiB.
	MaxBytes int64
	// MaxDuration is the longest video accepted. Defaults to 2h.
	MaxDuration time.Duration
	// MaxPixels is the largest frame (width×height) accepted. Defaults to
	// 8192×8192.
	MaxPixels int
	// Threads is the decoder's thread count; 0 lets FFmpeg choose.
	Threads int
}

func (c Config) withDefaults() Config {
	if c.FrameInterval <= 0 {
		c.FrameInterval = time.Second
	}
	if c.FrameSize <= 0 {
		c.FrameSize = 64
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
	return c
}

// Info is what the container says about the source.
type Info struct {
	Duration   time.Duration     `json:"duration"`
	Size       int64             `json:"size"`
	Format     string            `json:"format"`
	VideoCodec string            `json:"video_codec,omitempty"`
	AudioCodec string            `json:"audio_codec,omitempty"`
	Width      int               `json:"width,omitempty"`
	Height     int               `json:"height,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// Frame is one sampled video frame, scaled to a Size×Size grey image.
type Frame struct {
	T    time.Duration // presentation time from the start of the video
	Size int
	Gray []byte // Size*Size bytes, row-major
}

// Audio is the whole audio track as mono float32 samples in [-1, 1].
type Audio struct {
	SampleRate int
	Samples    []float32
}

// Media is everything decode extracts from one source.
type Media struct {
	Info   Info
	Frames []Frame
	Audio  Audio
}

// formatWhitelist names the demuxers a source may use. Playlist and concat
// demuxers (hls, concat, …) are absent on purpose: they open further URLs.
const formatWhitelist = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,wav,mp3,aac,flac,h264,hevc,gif,image2"

var initFFmpeg sync.Once

func setupFFmpegLogging() {
	initFFmpeg.Do(func() {
		astiav.SetLogLevel(astiav.LogLevelError)
		astiav.SetLogCallback(func(_ astiav.Classer, l astiav.LogLevel, _, msg string) {
			slog.Debug("ffmpeg", "level", int(l), "msg", strings.TrimSpace(msg))
		})
	})
}

// File decodes the video file at path. The path may also be a file:// URL.
// The context bounds the wall time of the whole decode.
func File(ctx context.Context, path string, cfg Config) (*Media, error) {
	cfg = cfg.withDefaults()
	src := path
	path = strings.TrimPrefix(path, "file://")
	fail := func(k Kind, op string, err error) error {
		return &Error{Kind: k, Source: src, Op: op, Err: err}
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fail(KindInvalid, "resolve path", err)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail(KindInvalid, "open", err)
	case err != nil:
		return nil, fail(KindTransient, "open", err)
	case !st.Mode().IsRegular():
		return nil, fail(KindInvalid, "open", errors.New("not a regular file"))
	case st.Size() == 0:
		return nil, fail(KindInvalid, "open", errors.New("file is empty"))
	case st.Size() > cfg.MaxBytes:
		return nil, fail(KindLimit, "open", fmt.Errorf("file is %d bytes, limit is %d", st.Size(), cfg.MaxBytes))
	}
	if len(cfg.Roots) > 0 {
		if err := underRoots(abs, cfg.Roots); err != nil {
			return nil, fail(KindForbidden, "open", err)
		}
	}

	setupFFmpegLogging()
	d := &decoder{cfg: cfg, src: src, fail: fail}
	defer d.close()
	m, err := d.run(ctx, abs)
	if err != nil {
		return nil, err
	}
	m.Info.Size = st.Size()
	return m, nil
}

func underRoots(abs string, roots []string) error {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	for _, r := range roots {
		rr, err := filepath.EvalSymlinks(r)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rr, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil
		}
	}
	return fmt.Errorf("%s is not under any allowed root", abs)
}

// decoder holds the FFmpeg objects of one decode; close frees them all.
type decoder struct {
	cfg     Config
	src     string
	fail    func(Kind, string, error) error
	closers []func()

	fc *astiav.FormatContext

	video      *astiav.Stream
	videoCodec *astiav.CodecContext
	sws        *astiav.SoftwareScaleContext
	swsKey     [3]int
	scaled     *astiav.Frame
	next       time.Duration // next sampling time

	audio      *astiav.Stream
	audioCodec *astiav.CodecContext
	graph      *astiav.FilterGraph
	abuffer    *astiav.FilterContext
	asink      *astiav.FilterContext
	filtered   *astiav.Frame

	media Media
}

func (d *decoder) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

func (d *decoder) defer_(f func()) { d.closers = append(d.closers, f) }

func (d *decoder) run(ctx context.Context, path string) (*Media, error) {
	if err := d.open(ctx, path); err != nil {
		return nil, err
	}
	pkt := astiav.AllocPacket()
	d.defer_(pkt.Free)
	frame := astiav.AllocFrame()
	d.defer_(frame.Free)

	for {
		if err := ctx.Err(); err != nil {
			return nil, d.ctxErr(ctx, err)
		}
		if err := d.fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			if ctx.Err() != nil {
				return nil, d.ctxErr(ctx, ctx.Err())
			}
			return nil, d.fail(KindInvalid, "read packet", err)
		}
		var err error
		switch {
		case d.video != nil && pkt.StreamIndex() == d.video.Index():
			err = d.decodeVideo(pkt, frame)
		case d.audio != nil && pkt.StreamIndex() == d.audio.Index():
			err = d.decodeAudio(pkt, frame)
		}
		pkt.Unref()
		if err != nil {
			return nil, err
		}
	}
	// Flush the decoders: a nil packet drains the frames they still hold.
	if d.video != nil {
		if err := d.decodeVideo(nil, frame); err != nil {
			return nil, err
		}
	}
	if d.audio != nil {
		if err := d.decodeAudio(nil, frame); err != nil {
			return nil, err
		}
		if err := d.filterAudio(nil); err != nil {
			return nil, err
		}
	}
	if d.video != nil && len(d.media.Frames) == 0 && len(d.media.Audio.Samples) == 0 {
		return nil, d.fail(KindInvalid, "decode", errors.New("no frame could be decoded"))
	}
	d.media.Audio.SampleRate = d.cfg.AudioRate
	return &d.media, nil
}

func (d *decoder) ctxErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return d.fail(KindLimit, "decode", fmt.Errorf("decode wall time exceeded: %w", err))
	}
	return d.fail(KindTransient, "decode", err)
}

func (d *decoder) open(ctx context.Context, path string) error {
	d.fc = astiav.AllocFormatContext()
	if d.fc == nil {
		return d.fail(KindTransient, "open", errors.New("cannot allocate format context"))
	}
	d.defer_(d.fc.Free)
	// The interrupt callback lets a cancelled context abort blocking I/O
	// inside FFmpeg, not only between packets.
	ii := d.fc.SetInterruptCallback()
	stop := context.AfterFunc(ctx, ii.Interrupt)
	d.defer_(func() { stop() })

	opts := astiav.NewDictionary()
	defer opts.Free()
	_ = opts.Set("protocol_whitelist", "file", 0)
	_ = opts.Set("format_whitelist", formatWhitelist, 0)
	if err := d.fc.OpenInput(path, nil, opts); err != nil {
		if ctx.Err() != nil {
			return d.ctxErr(ctx, ctx.Err())
		}
		return d.fail(KindInvalid, "open", err)
	}
	d.defer_(d.fc.CloseInput)
	if err := d.fc.FindStreamInfo(nil); err != nil {
		return d.fail(KindInvalid, "probe", err)
	}

	info := &d.media.Info
	if in := d.fc.InputFormat(); in != nil {
		info.Format = in.Name()
	}
	if dur := d.fc.Duration(); dur > 0 {
		info.Duration = time.Duration(dur) * time.Microsecond
	}
	if info.Duration > d.cfg.MaxDuration {
		return d.fail(KindLimit, "probe", fmt.Errorf("duration %s exceeds limit %s", info.Duration, d.cfg.MaxDuration))
	}
	info.Metadata = dictionaryMap(d.fc.Metadata())

	for _, s := range d.fc.Streams() {
		cp := s.CodecParameters()
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			if d.video != nil || cp.Width() <= 0 || cp.Height() <= 0 {
				continue
			}
			if cp.Width()*cp.Height() > d.cfg.MaxPixels {
				return d.fail(KindLimit, "probe", fmt.Errorf("frame %dx%d exceeds %d pixels", cp.Width(), cp.Height(), d.cfg.MaxPixels))
			}
			cc, err := d.openCodec(s, "video")
			if err != nil {
				return err
			}
			d.video, d.videoCodec = s, cc
			info.VideoCodec = astiav.FindDecoder(cp.CodecID()).Name()
			info.Width, info.Height = cp.Width(), cp.Height()
		case astiav.MediaTypeAudio:
			if d.audio != nil || d.cfg.NoAudio {
				continue
			}
			cc, err := d.openCodec(s, "audio")
			if err != nil {
				return err
			}
			d.audio, d.audioCodec = s, cc
			info.AudioCodec = astiav.FindDecoder(cp.CodecID()).Name()
		}
	}
	if d.video == nil && d.audio == nil {
		return d.fail(KindInvalid, "probe", errors.New("no decodable video or audio stream"))
	}
	return nil
}

func (d *decoder) openCodec(s *astiav.Stream, kind string) (*astiav.CodecContext, error) {
	cp := s.CodecParameters()
	codec := astiav.FindDecoder(cp.CodecID())
	if codec == nil {
		return nil, d.fail(KindInvalid, "open "+kind+" decoder", fmt.Errorf("no decoder for codec %s", cp.CodecID()))
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, d.fail(KindTransient, "open "+kind+" decoder", errors.New("cannot allocate codec context"))
	}
	d.defer_(cc.Free)
	if err := cp.ToCodecContext(cc); err != nil {
		return nil, d.fail(KindInvalid, "open "+kind+" decoder", err)
	}
	if kind == "video" {
		cc.SetThreadCount(d.cfg.Threads)
	}
	cc.SetTimeBase(s.TimeBase())
	if err := cc.Open(codec, nil); err != nil {
		return nil, d.fail(KindInvalid, "open "+kind+" decoder", err)
	}
	return cc, nil
}

// decodeVideo sends one packet (nil flushes) and samples the frames that
// come out. A frame is colour-converted only when it is sampled.
func (d *decoder) decodeVideo(pkt *astiav.Packet, frame *astiav.Frame) error {
	if err := d.videoCodec.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		// A corrupt packet in the middle of a stream is common in the wild:
		// skip it, as the ffmpeg CLI does, and judge the whole file by
		// whether any frame decodes.
		slog.Debug("decode: bad video packet", "source", d.src, "err", err)
		return nil
	}
	for {
		err := d.videoCodec.ReceiveFrame(frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			slog.Debug("decode: bad video frame", "source", d.src, "err", err)
			return nil
		}
		t := d.streamTime(d.video, frame.Pts())
		if t >= d.next && t >= 0 {
			if err := d.sample(frame, t); err != nil {
				frame.Unref()
				return err
			}
			// Advance to the first grid point after t, so a gap in the
			// stream does not produce a burst of samples.
			d.next = (t/d.cfg.FrameInterval + 1) * d.cfg.FrameInterval
		}
		frame.Unref()
	}
}

func (d *decoder) streamTime(s *astiav.Stream, pts int64) time.Duration {
	if pts == astiav.NoPtsValue {
		return -1
	}
	start := s.StartTime()
	if start == astiav.NoPtsValue {
		start = 0
	}
	tb := s.TimeBase()
	secs := float64(pts-start) * float64(tb.Num()) / float64(tb.Den())
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return -1
	}
	return time.Duration(secs * float64(time.Second))
}

func (d *decoder) sample(frame *astiav.Frame, t time.Duration) error {
	w, h, pf := frame.Width(), frame.Height(), frame.PixelFormat()
	if w <= 0 || h <= 0 {
		return nil
	}
	if w*h > d.cfg.MaxPixels {
		return d.fail(KindLimit, "decode video", fmt.Errorf("frame %dx%d exceeds %d pixels", w, h, d.cfg.MaxPixels))
	}
	key := [3]int{w, h, int(pf)}
	if d.sws == nil || d.swsKey != key {
		if d.sws != nil {
			d.sws.Free()
		}
		size := d.cfg.FrameSize
		sws, err := astiav.CreateSoftwareScaleContext(w, h, pf, size, size, astiav.PixelFormatGray8,
			astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagArea))
		if err != nil {
			return d.fail(KindInvalid, "scale", err)
		}
		if d.sws == nil {
			d.defer_(func() { d.sws.Free() })
		}
		d.sws, d.swsKey = sws, key
		if d.scaled == nil {
			d.scaled = astiav.AllocFrame()
			d.defer_(d.scaled.Free)
		}
	}
	d.scaled.Unref()
	if err := d.sws.ScaleFrame(frame, d.scaled); err != nil {
		return d.fail(KindInvalid, "scale", err)
	}
	buf, err := d.scaled.Data().Bytes(1)
	if err != nil {
		return d.fail(KindTransient, "scale", err)
	}
	d.media.Frames = append(d.media.Frames, Frame{T: t, Size: d.cfg.FrameSize, Gray: buf})
	return nil
}

func (d *decoder) decodeAudio(pkt *astiav.Packet, frame *astiav.Frame) error {
	if err := d.audioCodec.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		slog.Debug("decode: bad audio packet", "source", d.src, "err", err)
		return nil
	}
	for {
		err := d.audioCodec.ReceiveFrame(frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			slog.Debug("decode: bad audio frame", "source", d.src, "err", err)
			return nil
		}
		err = d.filterAudio(frame)
		frame.Unref()
		if err != nil {
			return err
		}
	}
}

// filterAudio pushes one decoded frame (nil at the end) through
// abuffer → aresample → aformat(flt, mono) → abuffersink and appends what
// comes out. go-astiav v0.16 has no SoftwareResampleContext, hence the graph.
func (d *decoder) filterAudio(frame *astiav.Frame) error {
	if d.graph == nil {
		if frame == nil {
			return nil
		}
		if err := d.buildAudioGraph(frame); err != nil {
			return err
		}
	}
	if err := d.abuffer.BuffersrcAddFrame(frame, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return d.fail(KindInvalid, "resample audio", err)
	}
	for {
		d.filtered.Unref()
		err := d.asink.BuffersinkGetFrame(d.filtered, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return d.fail(KindInvalid, "resample audio", err)
		}
		d.media.Audio.Samples = appendMonoFloat(d.media.Audio.Samples, d.filtered)
	}
}

func (d *decoder) buildAudioGraph(frame *astiav.Frame) error {
	fail := func(err error) error { return d.fail(KindInvalid, "audio filter graph", err) }
	d.graph = astiav.AllocFilterGraph()
	d.defer_(d.graph.Free)
	d.filtered = astiav.AllocFrame()
	d.defer_(d.filtered.Free)

	layout := frame.ChannelLayout()
	if !layout.Valid() || layout.NbChannels() == 0 {
		layout = astiav.ChannelLayoutMono
	}
	var err error
	d.abuffer, err = d.graph.NewFilterContext(astiav.FindFilterByName("abuffer"), "in", astiav.FilterArgs{
		"channel_layout": layout.String(),
		"sample_fmt":     frame.SampleFormat().Name(),
		"sample_rate":    fmt.Sprint(frame.SampleRate()),
		"time_base":      d.audio.TimeBase().String(),
	})
	if err != nil {
		return fail(err)
	}
	d.asink, err = d.graph.NewFilterContext(astiav.FindFilterByName("abuffersink"), "out", nil)
	if err != nil {
		return fail(err)
	}
	outputs := astiav.AllocFilterInOut()
	defer outputs.Free()
	inputs := astiav.AllocFilterInOut()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(d.abuffer)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(d.asink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	spec := fmt.Sprintf("aresample=%d,aformat=sample_fmts=flt:channel_layouts=mono", d.cfg.AudioRate)
	if err := d.graph.Parse(spec, inputs, outputs); err != nil {
		return fail(err)
	}
	if err := d.graph.Configure(); err != nil {
		return fail(err)
	}
	return nil
}

func dictionaryMap(dict *astiav.Dictionary) map[string]string {
	if dict == nil {
		return nil
	}
	m := map[string]string{}
	var prev *astiav.DictionaryEntry
	for {
		e := dict.Get("", prev, astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix))
		if e == nil {
			break
		}
		m[e.Key()] = e.Value()
		prev = e
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
