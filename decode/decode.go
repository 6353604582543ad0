package decode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
)

// formatWhitelist names the demuxers a source may use. Playlist and concat
// demuxers (hls, dash, concat, …) are absent on purpose: they open further
// URLs. Subtitle-only formats are absent too: a source is a video, or a
// still image (the *_pipe demuxers) for an image query: one frame at 0 s.
const formatWhitelist = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,wav,mp3,aac,flac,h264,hevc,gif,png_pipe,jpeg_pipe,webp_pipe,bmp_pipe"

var initFFmpeg sync.Once

func setupFFmpegLogging() {
	initFFmpeg.Do(func() {
		astiav.SetLogLevel(astiav.LogLevelError)
		astiav.SetLogCallback(func(_ astiav.Classer, l astiav.LogLevel, _, msg string) {
			slog.Debug("ffmpeg", "level", int(l), "msg", strings.TrimSpace(msg))
		})
	})
}

func decodeStream(ctx context.Context, src string, r io.Reader, size int64, cfg Config) (*Media, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Kind: KindInvalid, Source: src, Op: "config", Err: err}
	}
	setupFFmpegLogging()
	d := &decoder{cfg: cfg, src: src}
	defer d.close()
	m, err := d.run(ctx, r, size)
	if err != nil {
		var de *Error
		if ctx.Err() != nil && errors.As(err, &de) && de.Kind != KindLimit {
			// The deadline cut the source short (a slow server, a stalled
			// pipe): whatever FFmpeg made of the half-read input, the
			// input itself was not shown to be bad.
			kind := KindLimit
			if errors.Is(ctx.Err(), context.Canceled) {
				kind = KindTransient
			}
			return nil, &Error{Kind: kind, Source: src, Op: de.Op, Err: fmt.Errorf("%w (while: %v)", context.Cause(ctx), de.Err)}
		}
		return nil, err
	}
	if size > 0 {
		m.Info.Size = size
	}
	return m, nil
}

// decoder holds the FFmpeg objects of one decode; close frees them all.
type decoder struct {
	cfg     Config
	src     string
	closers []func()
	io      *ioState // the Go reader under FFmpeg

	fc *astiav.FormatContext

	video      *videoState
	audio      *audioState
	subtitles  map[int]*subtitleState
	framesDone bool
	badVideo   bool // a video stream without a usable picture size

	media Media
}

func (d *decoder) fail(k Kind, op string, err error) error {
	return &Error{Kind: k, Source: d.src, Op: op, Err: err}
}

func (d *decoder) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

func (d *decoder) onClose(f func()) { d.closers = append(d.closers, f) }

// ffmpegErr turns an error from FFmpeg into a typed one: if the Go reader
// under FFmpeg failed, that failure decides; otherwise the input is bad.
func (d *decoder) ffmpegErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return d.ctxErr(ctx, ctx.Err())
	}
	if d.io != nil && d.io.readErr != nil {
		return d.fail(classifyIO(ctx, d.io.readErr), op, d.io.readErr)
	}
	if d.io != nil && d.io.seekErr != nil {
		return d.fail(classifyIO(ctx, d.io.seekErr), op, d.io.seekErr)
	}
	return d.fail(KindInvalid, op, err)
}

func (d *decoder) ctxErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return d.fail(KindLimit, "decode", fmt.Errorf("decode wall time exceeded: %w", err))
	}
	return d.fail(KindTransient, "decode", err)
}

func (d *decoder) run(ctx context.Context, r io.Reader, size int64) (*Media, error) {
	if err := d.open(ctx, r, size); err != nil {
		return nil, err
	}
	pkt := astiav.AllocPacket()
	d.onClose(pkt.Free)
	frame := astiav.AllocFrame()
	d.onClose(frame.Free)

	for {
		if err := ctx.Err(); err != nil {
			return nil, d.ctxErr(ctx, err)
		}
		if d.framesDone && d.audio == nil && len(d.subtitles) == 0 {
			break // nothing more to gain from the rest of the stream
		}
		if err := d.fc.ReadFrame(pkt); err != nil {
			// FFmpeg reports a failed read as the end of some formats:
			// a source that broke off is not a short video.
			if d.io.readErr != nil || ctx.Err() != nil {
				return nil, d.ffmpegErr(ctx, "read packet", err)
			}
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			// A damaged packet in the middle of a file: stop reading, as the
			// ffmpeg CLI would, and judge by what decoded.
			slog.Debug("decode: read failed", "source", d.src, "err", err)
			break
		}
		var err error
		idx := pkt.StreamIndex()
		switch {
		case d.video != nil && idx == d.video.stream.Index() && !d.framesDone:
			if d.video.skip != nil {
				err = d.video.skip.push(pkt, d.video, func(p *astiav.Packet) error { return d.decodeVideo(p, frame) })
				if de := (*Error)(nil); err != nil && !errors.As(err, &de) {
					err = d.fail(KindTransient, "decode video", err) // holding the packet failed
				}
			} else {
				err = d.decodeVideo(pkt, frame)
			}
		case d.audio != nil && idx == d.audio.stream.Index():
			err = d.decodeAudio(pkt, frame)
		case d.subtitles[idx] != nil:
			d.readSubtitle(d.subtitles[idx], pkt)
		}
		pkt.Unref()
		if err != nil {
			return nil, err
		}
	}
	// Flush the decoders: a nil packet drains the frames they still hold.
	if d.video != nil && d.video.skip != nil && !d.framesDone {
		if err := d.video.skip.flush(d.video, func(p *astiav.Packet) error { return d.decodeVideo(p, frame) }); err != nil {
			return nil, err
		}
	}
	if d.video != nil && !d.framesDone {
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
	if len(d.media.Frames) == 0 && len(d.media.Audio.Samples) == 0 {
		if d.badVideo {
			return nil, d.fail(KindInvalid, "probe", errors.New("the video stream has no valid picture size"))
		}
		return nil, d.fail(KindInvalid, "decode", errors.New("no frame and no audio could be decoded"))
	}
	d.media.Audio.SampleRate = d.cfg.AudioRate
	sort.SliceStable(d.media.Text, func(i, j int) bool { return d.media.Text[i].Start < d.media.Text[j].Start })
	if d.io != nil {
		d.media.ContentSHA256 = d.io.finishHash(ctx)
	}
	return &d.media, nil
}

func (d *decoder) open(ctx context.Context, r io.Reader, size int64) error {
	ioc, err := d.newIOContext(ctx, r, size)
	if err != nil {
		return d.fail(KindTransient, "open", err)
	}
	d.onClose(ioc.Free)
	d.fc = astiav.AllocFormatContext()
	if d.fc == nil {
		return d.fail(KindTransient, "open", errors.New("cannot allocate format context"))
	}
	d.onClose(d.fc.Free)
	d.fc.SetPb(ioc)
	// The interrupt callback lets a cancelled context abort blocking work
	// inside FFmpeg, not only between packets.
	ii := d.fc.SetInterruptCallback()
	stop := context.AfterFunc(ctx, ii.Interrupt)
	d.onClose(func() { stop() })

	opts := astiav.NewDictionary()
	defer opts.Free()
	// With a custom IOContext FFmpeg needs no protocol at all; an empty
	// whitelist would be ignored, so name one that cannot open anything.
	_ = opts.Set("protocol_whitelist", "none", 0)
	_ = opts.Set("format_whitelist", formatWhitelist, 0)
	if err := d.fc.OpenInput("", nil, opts); err != nil {
		return d.ffmpegErr(ctx, "open", err)
	}
	d.onClose(d.fc.CloseInput)
	// What the container header declares is checked before FFmpeg opens
	// decoders to probe the streams.
	for _, s := range d.fc.Streams() {
		cp := s.CodecParameters()
		if cp.MediaType() == astiav.MediaTypeVideo && cp.Width()*cp.Height() > d.cfg.MaxPixels {
			return d.fail(KindLimit, "probe", fmt.Errorf("frame %dx%d exceeds %d pixels", cp.Width(), cp.Height(), d.cfg.MaxPixels))
		}
	}
	if err := findStreamInfo(d.fc, d.cfg.MaxPixels); err != nil {
		return d.ffmpegErr(ctx, "probe", err)
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
	d.media.Text = append(d.media.Text, metadataCues(info.Metadata, info.Duration)...)

	for _, s := range d.fc.Streams() {
		if err := d.addStream(s); err != nil {
			return err
		}
	}
	if d.video == nil && d.audio == nil {
		if d.badVideo {
			return d.fail(KindInvalid, "probe", errors.New("the video stream has no valid picture size"))
		}
		return d.fail(KindInvalid, "probe", errors.New("no decodable video or audio stream"))
	}
	if d.video == nil {
		d.framesDone = true
	}
	return nil
}

func (d *decoder) addStream(s *astiav.Stream) error {
	cp := s.CodecParameters()
	si := Stream{Index: s.Index(), Type: cp.MediaType().String(), Codec: cp.CodecID().Name()}
	if md := dictionaryMap(s.Metadata()); md != nil {
		si.Language = md["language"]
	}
	defer func() { d.media.Info.Streams = append(d.media.Info.Streams, si) }()
	switch cp.MediaType() {
	case astiav.MediaTypeVideo:
		si.Width, si.Height = cp.Width(), cp.Height()
		if r := s.AvgFrameRate(); r.Den() > 0 {
			si.FrameRate = math.Round(r.Float64()*1000) / 1000
		}
		si.Rotation = streamRotation(s)
		if cp.Width()*cp.Height() > d.cfg.MaxPixels || cp.Width() > 65535 || cp.Height() > 65535 {
			return d.fail(KindLimit, "probe", fmt.Errorf("frame %dx%d exceeds %d pixels", cp.Width(), cp.Height(), d.cfg.MaxPixels))
		}
		if cp.Width() <= 0 || cp.Height() <= 0 {
			d.badVideo = true
			return nil
		}
		if d.video != nil || d.cfg.NoVideo {
			return nil
		}
		v, err := d.openVideo(s)
		if err != nil {
			return err
		}
		d.video = v
		info := &d.media.Info
		info.VideoCodec = si.Codec
		info.Rotation = si.Rotation
		info.Width, info.Height = cp.Width(), cp.Height()
		if si.Rotation == 90 || si.Rotation == 270 {
			info.Width, info.Height = info.Height, info.Width
		}
	case astiav.MediaTypeAudio:
		si.SampleRate = cp.SampleRate()
		si.Channels = cp.ChannelLayout().NbChannels()
		if d.audio != nil || d.cfg.NoAudio {
			return nil
		}
		cc, err := d.openCodec(s, "audio", nil)
		if err != nil {
			// An undecodable audio track does not spoil the video.
			slog.Debug("decode: skipping audio stream", "source", d.src, "err", err)
			return nil
		}
		d.audio = &audioState{stream: s, codec: cc}
		d.media.Info.AudioCodec = si.Codec
	case astiav.MediaTypeSubtitle:
		if d.cfg.NoText || !textSubtitle(cp.CodecID()) {
			return nil
		}
		if d.subtitles == nil {
			d.subtitles = map[int]*subtitleState{}
		}
		d.subtitles[s.Index()] = &subtitleState{stream: s, codec: cp.CodecID(), language: si.Language}
	}
	return nil
}

func (d *decoder) openCodec(s *astiav.Stream, kind string, opts map[string]string) (*astiav.CodecContext, error) {
	cp := s.CodecParameters()
	codec := astiav.FindDecoder(cp.CodecID())
	if codec == nil {
		return nil, d.fail(KindInvalid, "open "+kind+" decoder", fmt.Errorf("no decoder for codec %s", cp.CodecID()))
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, d.fail(KindTransient, "open "+kind+" decoder", errors.New("cannot allocate codec context"))
	}
	d.onClose(cc.Free)
	if err := cp.ToCodecContext(cc); err != nil {
		return nil, d.fail(KindInvalid, "open "+kind+" decoder", err)
	}
	cc.SetTimeBase(s.TimeBase())
	var dict *astiav.Dictionary
	if len(opts) > 0 {
		dict = astiav.NewDictionary()
		defer dict.Free()
		for k, v := range opts {
			_ = dict.Set(k, v, 0)
		}
	}
	if err := cc.Open(codec, dict); err != nil {
		return nil, d.fail(KindInvalid, "open "+kind+" decoder", err)
	}
	return cc, nil
}

// streamTime converts a timestamp of stream s to time from the start of
// the video.
func streamTime(s *astiav.Stream, ts int64) time.Duration {
	if ts == astiav.NoPtsValue {
		return -1
	}
	start := s.StartTime()
	if start == astiav.NoPtsValue {
		start = 0
	}
	tb := s.TimeBase()
	if tb.Den() == 0 {
		return -1
	}
	secs := float64(ts-start) * float64(tb.Num()) / float64(tb.Den())
	if math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > 1e7 {
		return -1
	}
	return time.Duration(secs * float64(time.Second))
}

func streamRotation(s *astiav.Stream) int {
	b := s.SideData(astiav.PacketSideDataTypeDisplaymatrix)
	if len(b) == 0 {
		return 0
	}
	m, err := astiav.NewDisplayMatrixFromBytes(b)
	if err != nil {
		return 0
	}
	// FFmpeg's angle is counter-clockwise; what a player does is rotate
	// clockwise by its negation.
	deg := int(math.Round(-m.Rotation()))
	deg = ((deg % 360) + 360) % 360
	switch deg {
	case 90, 180, 270:
		return deg
	}
	return 0
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
