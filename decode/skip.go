package decode

// #cgo pkg-config: libavcodec
// #include <libavcodec/avcodec.h>
//
// static void mediavec_set_skip(AVCodecContext *c, int frame) { c->skip_frame = frame; }
import "C"

import (
	"errors"
	"slices"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Frame skipping. At fps=1 a 30 fps upload shows 30 frames for every one
// sampled, and the decoder still has to decode every frame another one is
// predicted from. It need not decode the others: a frame no other frame
// refers to (most B-frames) is told to the decoder as skippable unless it
// is the one a grid time samples. Which packet that is can be known before
// decoding it: a frame is sampled when a grid time falls after the frame
// shown before it and at or before its own time, and the frame shown
// before it is the one with the next lower timestamp among the packets
// around it in decode order (the reorder delay of any codec is well under
// reorder packets).
//
// Beyond that, a frame that is not sampled and that nothing sampled until
// the next IDR picture refers to, even through other frames, is not
// decoded at all: at fps=1 with a keyframe every second or two only the
// keyframes and the references up to each sampled frame are decoded.
//
// The sampled frames, their times and their pixels are bit for bit those
// of a full decode (TestSkipKeepsSamples). FFmpeg can also skip the loop
// filter (deblocking), 13 % of the decode left on bench pipeline's mix: it
// is not skipped, since its error carries from frame to frame until the
// next keyframe, and it changed what OCR read of small print.

// reorder bounds how far apart in decode order two frames shown one
// after the other may be (well above any codec's reorder delay): the
// frame shown before a packet's is among the reorder packets around it.
// lookahead is how many packets are held before the first is decoded:
// enough to see the next keyframe of a GOP of a few seconds.
const (
	reorder   = 16
	lookahead = 128
)

// The AVDiscard values this file uses (libavcodec/defs.h).
const (
	discardDefault = 0  // AVDISCARD_DEFAULT: the frames the codec would drop anyway
	discardNonRef  = 8  // AVDISCARD_NONREF: frames no other frame refers to
	discardNonKey  = 32 // AVDISCARD_NONKEY: every frame but keyframes
	discardAll     = 48 // AVDISCARD_ALL: any frame
)

// skipper decides, packet by packet, what the video decoder may skip.
type skipper struct {
	stream   *astiav.Stream
	codec    *C.AVCodecContext
	base     C.int // what every frame may skip: nothing, or all but keyframes
	grid     bool  // fps sampling: frames between grid times may be skipped
	pending  []heldPacket
	codecID  astiav.CodecID
	lenSize  int     // H.264/HEVC: bytes of a NAL unit's length; 0 for start codes
	sent     []int64 // timestamps of the last packets sent, oldest first
	flushing bool    // no packet comes after those held
}

// heldPacket is a packet held for lookahead, with whether its frame may be
// sampled once that is known.
type heldPacket struct {
	pkt *astiav.Packet
	pts int64
	// fresh says the packet is a keyframe no later frame refers back
	// across: an H.264 or HEVC IDR picture, a VP8 or VP9 keyframe.
	fresh bool
	want  int8 // 0: not yet known; 1: not wanted; 2: wanted
}

// newSkipper returns a skipper for v, or nil when nothing may be skipped:
// the full decode was asked for, or the policy looks at every frame.
func newSkipper(cfg Config, v *videoState) *skipper {
	if cfg.FullDecode || cfg.Sampling.Kind == PolicyScenes {
		return nil
	}
	// go-astiav v0.16 has no setter for these fields nor an accessor for
	// the AVCodecContext pointer: this reads its one field, as
	// findStreamInfo does (the version is pinned in go.mod).
	cc := (*struct{ c *C.AVCodecContext })(unsafe.Pointer(v.codec)).c
	cp := v.stream.CodecParameters()
	s := &skipper{stream: v.stream, codec: cc, base: discardDefault, grid: cfg.Sampling.Kind == PolicyFPS,
		codecID: cp.CodecID(), lenSize: nalLengthSize(cp.CodecID(), cp.ExtraData())}
	if cfg.Sampling.Kind == PolicyKeyframes {
		s.base = discardNonKey
	}
	C.mediavec_set_skip(cc, s.base)
	return s
}

// push takes a packet (a reference is kept) and decodes, with decode,
// those now due, oldest first, each with the decoder told what it may
// skip of it.
func (s *skipper) push(pkt *astiav.Packet, v *videoState, decode func(*astiav.Packet) error) error {
	held := pkt.Clone()
	if held == nil {
		return errors.New("cannot hold a packet: out of memory")
	}
	s.pending = append(s.pending, heldPacket{pkt: held, pts: pkt.Pts(), fresh: s.fresh(pkt)})
	for len(s.pending) > lookahead {
		if err := s.decodeHead(v, decode); err != nil {
			return err
		}
	}
	return nil
}

// flush decodes every packet still held.
func (s *skipper) flush(v *videoState, decode func(*astiav.Packet) error) error {
	s.flushing = true
	for len(s.pending) > 0 {
		if err := s.decodeHead(v, decode); err != nil {
			return err
		}
	}
	return nil
}

func (s *skipper) free() {
	for _, p := range s.pending {
		p.pkt.Free()
	}
	s.pending = nil
}

func (s *skipper) decodeHead(v *videoState, decode func(*astiav.Packet) error) error {
	frame := s.base
	if s.grid && frame == discardDefault && !s.wantAt(0, v) {
		// Not sampled: skip it if nothing refers to it, or skip it
		// whatever refers to it when nothing sampled does.
		frame = discardNonRef
		if s.noneWantedBeforeKey(v) {
			frame = discardAll
		}
	}
	h := s.pending[0]
	s.pending = s.pending[1:]
	defer h.pkt.Free()
	C.mediavec_set_skip(s.codec, frame)
	s.sent = append(s.sent, h.pts)
	if len(s.sent) > 4*reorder {
		s.sent = slices.Delete(s.sent, 0, len(s.sent)-4*reorder)
	}
	return decode(h.pkt)
}

// noneWantedBeforeKey reports whether a fresh keyframe is held after the
// head packet and no frame until it is wanted, nor any frame shown before
// it that comes after it in decode order. The head's frame and every frame
// that may refer to it up to that keyframe can then go undecoded. Only a
// fresh keyframe will do: after an open GOP's keyframe (an H.264 recovery
// point, an HEVC CRA) frames still refer back across it, and FFmpeg's
// H.264 decoder, missing them, drops the frames it still held for output.
func (s *skipper) noneWantedBeforeKey(v *videoState) bool {
	for i := 1; i < len(s.pending); i++ {
		if !s.pending[i].fresh {
			if s.wantAt(i, v) {
				return false
			}
			continue
		}
		if len(s.pending)-1-i < reorder && !s.flushing {
			return false // its leading frames may not all be held yet
		}
		for j := i + 1; j < len(s.pending) && j <= i+reorder; j++ {
			if s.pending[j].pts != astiav.NoPtsValue && s.pending[j].pts < s.pending[i].pts && s.wantAt(j, v) {
				return false
			}
		}
		return s.pending[i].pts != astiav.NoPtsValue
	}
	return false
}

// fresh reports whether pkt is a keyframe no later frame refers back
// across (heldPacket.fresh).
func (s *skipper) fresh(pkt *astiav.Packet) bool {
	if !pkt.Flags().Has(astiav.PacketFlagKey) {
		return false
	}
	switch s.codecID {
	case astiav.CodecIDVp8, astiav.CodecIDVp9:
		return true
	case astiav.CodecIDH264:
		return hasNAL(pkt.Data(), s.lenSize, func(h byte) bool { return h&0x1f == 5 }) // IDR slice
	case astiav.CodecIDHevc:
		return hasNAL(pkt.Data(), s.lenSize, func(h byte) bool { t := h >> 1 & 0x3f; return t == 19 || t == 20 }) // IDR_W_RADL, IDR_N_LP
	}
	return false
}

// nalLengthSize is how many bytes give each NAL unit's length in the
// packets of an H.264 or HEVC stream with this extradata (avcC, hvcC), or 0
// for Annex B start codes.
func nalLengthSize(id astiav.CodecID, extra []byte) int {
	switch {
	case id == astiav.CodecIDH264 && len(extra) >= 7 && extra[0] == 1:
		return int(extra[4]&3) + 1
	case id == astiav.CodecIDHevc && len(extra) >= 23 && extra[0] == 1:
		return int(extra[21]&3) + 1
	}
	return 0
}

// hasNAL reports whether any NAL unit of data has a first header byte is
// true of.
func hasNAL(data []byte, lenSize int, is func(byte) bool) bool {
	if lenSize > 0 {
		for off := 0; off+lenSize < len(data); {
			n := 0
			for _, b := range data[off : off+lenSize] {
				n = n<<8 | int(b)
			}
			off += lenSize
			if n <= 0 || off+n > len(data) {
				return false
			}
			if is(data[off]) {
				return true
			}
			off += n
		}
		return false
	}
	for i := 0; i+3 < len(data); i++ {
		if data[i] == 0 && data[i+1] == 0 && data[i+2] == 1 {
			if is(data[i+3]) {
				return true
			}
			i += 2
		}
	}
	return false
}

// wantAt reports whether the frame of the i-th held packet may be sampled:
// a grid time falls after the frame shown before it and at or before it.
// Unknown timestamps are always wanted, and so is a frame whose
// neighbours in decode order are not all held yet.
func (s *skipper) wantAt(i int, v *videoState) bool {
	h := &s.pending[i]
	if h.want != 0 {
		return h.want == 2
	}
	if len(s.pending)-1-i < reorder && !s.flushing {
		return true // not known yet; not cached
	}
	want := s.wanted(h.pts, v)
	h.want = 1
	if want {
		h.want = 2
	}
	return want
}

// wanted is wantAt for a timestamp, from the packets sent and held.
func (s *skipper) wanted(pts int64, v *videoState) bool {
	if pts == astiav.NoPtsValue {
		return true
	}
	prev, found := int64(0), false
	consider := func(q int64) {
		if q != astiav.NoPtsValue && q < pts && (!found || q > prev) {
			prev, found = q, true
		}
	}
	for _, q := range s.sent {
		consider(q)
	}
	for _, h := range s.pending {
		consider(h.pts)
	}
	if !found {
		return true
	}
	t, tp := streamTime(s.stream, pts), streamTime(s.stream, prev)
	if t < 0 || tp < 0 {
		return true
	}
	return t/v.step != tp/v.step
}
