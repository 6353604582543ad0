package decode

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/asticode/go-astiav"
)

// ChromaprintHop is the time in seconds between consecutive sub-fingerprints
// of Chromaprint's default algorithm (TEST2): the library resamples to
// 11025 Hz and cuts 4096-sample frames that overlap by 4096-4096/3 samples,
// so frames start 1365 samples (≈ 0.1238 s) apart.
//
// A clip of d seconds gives floor((d·11025 - 4096)/1365) - 18 values
// (≈ d/ChromaprintHop - 21), not d/ChromaprintHop: the first value needs a
// whole 4096-sample frame, the 5-tap chroma smoothing and the 16-frame-wide
// classifiers, 2.72 s of audio in all, and each further value one more hop.
// Value i describes the audio from i·ChromaprintHop seconds on, which is
// what aligning two fingerprints relies on: audio cut c seconds later lines
// up c/ChromaprintHop values in.
const ChromaprintHop = 1365.0 / 11025

// chromaprintPacket is how many samples go into one packet: the muxer feeds
// each packet to the library as it comes, so the size only bounds memory and
// how often ctx is checked.
const chromaprintPacket = 4096

// packetPadding is AV_INPUT_BUFFER_PADDING_SIZE (FFmpeg 5.x): packet data
// handed to av_packet_from_data must be followed by that many zero bytes.
const packetPadding = 64

// Chromaprint returns the Chromaprint audio fingerprint of mono PCM samples
// (float32 in [-1,1] at rate Hz) as raw sub-fingerprints, one uint32 per hop
// (ChromaprintHop seconds). Fingerprints of the same recording compare by
// the Hamming distance of values at aligned positions.
//
// It runs FFmpeg's own chromaprint muxer (libchromaprint, default
// algorithm) rather than binding the library: the ffmpeg CLI's
// "-f chromaprint -fp_format raw" on the same audio gives the same values,
// and no second C dependency is needed. Audio shorter than 2.72 s gives an
// empty slice and no error, as the muxer does. rate must be at
// least 1000 Hz (the muxer's limit); the samples are clipped to [-1,1] and
// rounded to 16 bits, which is what the library works on.
//
// Errors are *Error with Op "chromaprint" (the source is the samples,
// named "audio"): KindTransient for a cancelled ctx (wrapped, so
// errors.Is finds it), KindInvalid otherwise.
func Chromaprint(ctx context.Context, samples []float32, rate int) ([]uint32, error) {
	fp, err := chromaprint(ctx, samples, rate)
	if err != nil {
		kind := KindInvalid
		if ctx.Err() != nil {
			kind = KindTransient
		}
		return nil, &Error{Kind: kind, Source: "audio", Op: "chromaprint", Err: err}
	}
	return fp, nil
}

func chromaprint(ctx context.Context, samples []float32, rate int) ([]uint32, error) {
	if rate < 1000 {
		return nil, fmt.Errorf("sample rate %d Hz: the muxer needs at least 1000", rate)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setupFFmpegLogging()
	// av_guess_format rather than the error of AllocOutputFormatContext,
	// which is a bare EINVAL when the muxer is not compiled in.
	if astiav.FindOutputFormat("chromaprint") == nil {
		return nil, errors.New("FFmpeg was built without chromaprint (no chromaprint muxer in libavformat)")
	}

	fc, err := astiav.AllocOutputFormatContext(nil, "chromaprint", "")
	if err != nil {
		return nil, fmt.Errorf("allocating the muxer: %w", err)
	}
	// Free runs the muxer's deinit when the header was written, so an early
	// return (cancelled ctx, failed packet) frees the library context too.
	defer fc.Free()

	// The muxer writes the fingerprint only in its trailer, in one
	// avio_write: the buffer size does not matter much.
	var out bytes.Buffer
	pb, err := astiav.AllocIOContext(4096, true, nil, nil, func(b []byte) (int, error) {
		return out.Write(b)
	})
	if err != nil {
		return nil, fmt.Errorf("allocating the output: %w", err)
	}
	// avformat_free_context leaves a caller's pb alone; fc.Free runs first
	// (deferred later), so nothing flushes into a freed context.
	defer pb.Free()
	fc.SetPb(pb)

	// The muxer passes packet bytes to chromaprint_feed as int16_t, so they
	// are in host byte order: its default codec is AV_NE(pcm_s16be,
	// pcm_s16le). The codec id only describes them.
	codecID := astiav.CodecIDPcmS16Le
	if !hostLittleEndian {
		codecID = astiav.CodecIDPcmS16Be
	}
	st := fc.NewStream(nil)
	if st == nil {
		return nil, errors.New("adding the audio stream failed")
	}
	cp := st.CodecParameters()
	cp.SetMediaType(astiav.MediaTypeAudio)
	cp.SetCodecID(codecID)
	cp.SetSampleFormat(astiav.SampleFormatS16)
	cp.SetChannelLayout(astiav.ChannelLayoutMono)
	cp.SetChannels(1)
	cp.SetSampleRate(rate)
	tb := astiav.NewRational(1, rate)
	st.SetTimeBase(tb)

	// fp_format defaults to base64 of the compressed form; raw is the
	// uint32 array itself.
	opts := astiav.NewDictionary()
	defer opts.Free()
	if err := opts.Set("fp_format", "raw", astiav.NewDictionaryFlags()); err != nil {
		return nil, fmt.Errorf("setting fp_format: %w", err)
	}
	if err := fc.WriteHeader(opts); err != nil {
		return nil, fmt.Errorf("writing the header: %w", err)
	}
	// An option the muxer did not take is left in the dictionary; without
	// this check a renamed option would silently give base64 text.
	if opts.Get("fp_format", nil, astiav.NewDictionaryFlags()) != nil {
		return nil, errors.New("the muxer did not accept fp_format=raw")
	}

	pkt := astiav.AllocPacket()
	defer pkt.Free()
	buf := make([]byte, 2*chromaprintPacket+packetPadding)
	for start := 0; start < len(samples); start += chromaprintPacket {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := samples[start:min(start+chromaprintPacket, len(samples))]
		n := 2 * len(chunk)
		for i, x := range chunk {
			binary.NativeEndian.PutUint16(buf[2*i:], uint16(pcm16(x)))
		}
		clear(buf[n : n+packetPadding])
		// FromData copies into an av_malloc'd buffer the packet owns.
		if err := pkt.FromData(buf[:n+packetPadding]); err != nil {
			return nil, fmt.Errorf("making a packet: %w", err)
		}
		pkt.SetSize(n)
		pkt.SetStreamIndex(st.Index())
		pts := astiav.RescaleQ(int64(start), tb, st.TimeBase())
		pkt.SetPts(pts)
		pkt.SetDts(pts)
		pkt.SetDuration(astiav.RescaleQ(int64(len(chunk)), tb, st.TimeBase()))
		err := fc.WriteFrame(pkt)
		// av_write_frame does not take the packet's reference.
		pkt.Unref()
		if err != nil {
			return nil, fmt.Errorf("feeding samples: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := fc.WriteTrailer(); err != nil {
		return nil, fmt.Errorf("computing the fingerprint: %w", err)
	}
	pb.Flush()

	// Raw format is chromaprint's uint32_t array as avio_write copies it
	// from memory: host byte order.
	b := out.Bytes()
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("raw fingerprint of %d bytes is not whole uint32s", len(b))
	}
	fp := make([]uint32, len(b)/4)
	for i := range fp {
		fp[i] = binary.NativeEndian.Uint32(b[4*i:])
	}
	return fp, nil
}

var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// pcm16 converts a float sample to 16 bits as libswresample's flt→s16
// conversion does (lrintf(x·32768), clipped), so that samples that went
// through float give the fingerprint the ffmpeg CLI gives for the same
// audio; NaN is silence.
func pcm16(x float32) int16 {
	if math.IsNaN(float64(x)) {
		return 0
	}
	v := math.RoundToEven(float64(x) * 32768)
	return int16(max(-32768, min(32767, v)))
}
