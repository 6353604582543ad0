package decode

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/asticode/go-astiav"
)

type audioState struct {
	stream   *astiav.Stream
	codec    *astiav.CodecContext
	graph    *astiav.FilterGraph
	abuffer  *astiav.FilterContext
	asink    *astiav.FilterContext
	filtered *astiav.Frame
}

func (d *decoder) decodeAudio(pkt *astiav.Packet, frame *astiav.Frame) error {
	a := d.audio
	if err := a.codec.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		slog.Debug("decode: bad audio packet", "source", d.src, "err", err)
		return nil
	}
	for {
		err := a.codec.ReceiveFrame(frame)
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
			var de *Error
			if errors.As(err, &de) && de.Kind == KindLimit {
				return err
			}
			// A track that cannot be resampled (or changes format
			// mid-stream) does not spoil the video: keep what came out so
			// far and stop decoding audio.
			slog.Debug("decode: dropping the rest of the audio track", "source", d.src, "err", err)
			d.audio = nil
			return nil
		}
	}
}

// filterAudio pushes one decoded frame (nil at the end) through
// abuffer → aresample → aformat(flt, mono) → abuffersink and appends what
// comes out. go-astiav v0.16 has no SoftwareResampleContext, hence the graph.
func (d *decoder) filterAudio(frame *astiav.Frame) error {
	a := d.audio
	if a == nil {
		return nil
	}
	if a.graph == nil {
		if frame == nil {
			return nil
		}
		if err := d.buildAudioGraph(frame); err != nil {
			return err
		}
	}
	if err := a.abuffer.BuffersrcAddFrame(frame, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return d.fail(KindInvalid, "resample audio", err)
	}
	for {
		a.filtered.Unref()
		err := a.asink.BuffersinkGetFrame(a.filtered, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return d.fail(KindInvalid, "resample audio", err)
		}
		d.media.Audio.Samples = appendMonoFloat(d.media.Audio.Samples, a.filtered)
		if max := d.cfg.MaxDuration.Seconds() * float64(d.cfg.AudioRate); float64(len(d.media.Audio.Samples)) > max+float64(d.cfg.AudioRate) {
			return d.fail(KindLimit, "decode audio", fmt.Errorf("audio longer than %s", d.cfg.MaxDuration))
		}
	}
}

func (d *decoder) buildAudioGraph(frame *astiav.Frame) error {
	a := d.audio
	fail := func(err error) error { return d.fail(KindInvalid, "audio filter graph", err) }
	a.graph = astiav.AllocFilterGraph()
	d.onClose(a.graph.Free)
	a.filtered = astiav.AllocFrame()
	d.onClose(a.filtered.Free)

	layout := frame.ChannelLayout()
	if !layout.Valid() || layout.NbChannels() == 0 {
		layout = astiav.ChannelLayoutMono
	}
	var err error
	a.abuffer, err = a.graph.NewFilterContext(astiav.FindFilterByName("abuffer"), "in", astiav.FilterArgs{
		"channel_layout": layout.String(),
		"sample_fmt":     frame.SampleFormat().Name(),
		"sample_rate":    fmt.Sprint(frame.SampleRate()),
		"time_base":      a.stream.TimeBase().String(),
	})
	if err != nil {
		return fail(err)
	}
	a.asink, err = a.graph.NewFilterContext(astiav.FindFilterByName("abuffersink"), "out", nil)
	if err != nil {
		return fail(err)
	}
	outputs := astiav.AllocFilterInOut()
	defer outputs.Free()
	inputs := astiav.AllocFilterInOut()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(a.abuffer)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(a.asink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	spec := fmt.Sprintf("aresample=%d,aformat=sample_fmts=flt:channel_layouts=mono", d.cfg.AudioRate)
	if err := a.graph.Parse(spec, inputs, outputs); err != nil {
		return fail(err)
	}
	if err := a.graph.Configure(); err != nil {
		return fail(err)
	}
	return nil
}
