package decode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/asticode/go-astiav"
)

// Open decodes a source given as a local path, a file:// URL or an
// http(s):// URL.
func Open(ctx context.Context, source string, cfg Config) (*Media, error) {
	switch {
	case strings.HasPrefix(source, "http://"), strings.HasPrefix(source, "https://"):
		return URL(ctx, source, cfg)
	case strings.HasPrefix(source, "file://"):
		u, err := url.Parse(source)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, &Error{Kind: KindInvalid, Source: source, Op: "open", Err: fmt.Errorf("not a local file URL")}
		}
		return file(ctx, source, u.Path, cfg)
	case strings.Contains(source, "://"):
		return nil, &Error{Kind: KindForbidden, Source: source, Op: "open", Err: errors.New("only file, http and https sources are allowed")}
	}
	return File(ctx, source, cfg)
}

// File decodes the video file at path. The context bounds the wall time of
// the whole decode.
func File(ctx context.Context, path string, cfg Config) (*Media, error) {
	return file(ctx, path, path, cfg)
}

func file(ctx context.Context, src, path string, cfg Config) (*Media, error) {
	cfg = cfg.withDefaults()
	fail := func(k Kind, err error) error { return &Error{Kind: k, Source: src, Op: "open", Err: err} }
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fail(KindInvalid, err)
	}
	var f *os.File
	if len(cfg.Roots) > 0 {
		f, err = openInRoots(abs, cfg.Roots)
	} else {
		f, err = os.Open(abs)
	}
	switch {
	case errors.Is(err, errOutsideRoots):
		return nil, fail(KindForbidden, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return nil, fail(KindInvalid, err)
	case err != nil:
		return nil, fail(KindTransient, err)
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, fail(KindTransient, err)
	case !st.Mode().IsRegular():
		return nil, fail(KindInvalid, errors.New("not a regular file"))
	case st.Size() == 0:
		return nil, fail(KindInvalid, errors.New("file is empty"))
	case st.Size() > cfg.MaxBytes:
		return nil, fail(KindLimit, fmt.Errorf("file is %d bytes, limit is %d", st.Size(), cfg.MaxBytes))
	}
	return decodeStream(ctx, src, f, st.Size(), cfg)
}

// URL decodes an http(s) source under cfg.HTTP: only public addresses
// unless allowed, connect and read timeouts, and the byte limit.
func URL(ctx context.Context, rawURL string, cfg Config) (*Media, error) {
	cfg = cfg.withDefaults()
	fail := func(k Kind, err error) error { return &Error{Kind: k, Source: rawURL, Op: "fetch", Err: err} }
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fail(KindInvalid, fmt.Errorf("not an http(s) URL"))
	}
	if u.User != nil {
		return nil, fail(KindForbidden, errors.New("credentials in the URL are not allowed"))
	}
	if err := cfg.HTTP.checkHost(u.Hostname()); err != nil {
		return nil, fail(KindForbidden, err)
	}
	client := newHTTPClient(cfg.HTTP)
	defer client.CloseIdleConnections()
	src, err := openHTTP(ctx, client, rawURL, cfg.MaxBytes)
	if err != nil {
		return nil, fail(classifyIO(ctx, err), err)
	}
	defer src.Close()
	return decodeStream(ctx, rawURL, src, src.Size(), cfg)
}

// Reader decodes from r; name is used in errors. If r is an io.ReadSeeker,
// containers that need seeking (mp4 without faststart) work; otherwise only
// streamable ones do.
func Reader(ctx context.Context, r io.Reader, name string, cfg Config) (*Media, error) {
	cfg = cfg.withDefaults()
	size := int64(-1)
	if s, ok := r.(io.Seeker); ok {
		if end, err := s.Seek(0, io.SeekEnd); err == nil {
			size = end
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				return nil, &Error{Kind: KindTransient, Source: name, Op: "open", Err: err}
			}
		}
	}
	if size == 0 {
		return nil, &Error{Kind: KindInvalid, Source: name, Op: "open", Err: errors.New("input is empty")}
	}
	if size > cfg.MaxBytes {
		return nil, &Error{Kind: KindLimit, Source: name, Op: "open", Err: fmt.Errorf("input is %d bytes, limit is %d", size, cfg.MaxBytes)}
	}
	return decodeStream(ctx, name, r, size, cfg)
}

// classifyIO decides whether a failure to read the source is the source's
// fault or a passing one.
func classifyIO(ctx context.Context, err error) Kind {
	var se *httpStatusError
	var ne net.Error
	switch {
	case errors.Is(err, errTooLarge):
		return KindLimit
	case errors.Is(err, errForbiddenAddr):
		return KindForbidden
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return KindLimit
	case errors.As(err, &se):
		if se.transient() {
			return KindTransient
		}
		return KindInvalid
	case errors.As(err, &ne), errors.Is(err, context.Canceled):
		return KindTransient
	}
	return KindTransient
}

var errOutsideRoots = errors.New("not under any allowed root")

// openInRoots opens abs only if it lies under one of roots. os.OpenInRoot
// resolves the path inside the root, so a symbolic link (or one swapped in
// between a check and the open) cannot lead outside it.
func openInRoots(abs string, roots []string) (*os.File, error) {
	var lastErr error
	for _, r := range roots {
		candidates := []string{filepath.Clean(r)}
		if real, err := filepath.EvalSymlinks(r); err == nil && real != candidates[0] {
			candidates = append(candidates, real)
		}
		for _, root := range candidates {
			rel, err := filepath.Rel(root, abs)
			if err != nil || !filepath.IsLocal(rel) {
				continue
			}
			f, err := os.OpenInRoot(root, rel)
			if err == nil {
				return f, nil
			}
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil, err
			}
			lastErr = err
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w: %s: %v", errOutsideRoots, abs, lastErr)
	}
	return nil, fmt.Errorf("%w: %s", errOutsideRoots, abs)
}

// AVSEEK_SIZE and AVSEEK_FORCE, from libavformat/avio.h.
const (
	avseekSize  = 0x10000
	avseekForce = 0x20000
)

// ioBufferSize is the IOContext buffer: large enough that the cgo call per
// read is noise next to demuxing.
const ioBufferSize = 256 << 10

// ioState is what the IOContext callbacks reach. go-astiav v0.16 keeps its
// callbacks registered after IOContext.Free, so the callbacks hold only this
// small struct, and close cuts it loose from the reader and the decoder.
type ioState struct {
	ctx     context.Context
	r       io.Reader
	seeker  io.Seeker
	size    int64 // -1 when unknown
	limit   int64 // bytes, enforced here when size is unknown
	total   int64
	readErr error // the reader failed: EOF from FFmpeg is not the real end
	seekErr error // the last seek failed

	// Content hashing: the bytes read in order from offset 0 go into hash;
	// hashed is how far that prefix reaches, pos where the next read
	// starts, and eof whether a read in order reached the end.
	hash   hash.Hash
	hashed int64
	pos    int64
	eof    bool
}

// feed hashes what a read at pos returned, when it continues the prefix
// hashed so far.
func (s *ioState) feed(b []byte) {
	if s.hash == nil {
		return
	}
	end := s.pos + int64(len(b))
	if s.pos <= s.hashed && end > s.hashed {
		s.hash.Write(b[s.hashed-s.pos:])
		s.hashed = end
	}
}

// finishHash reads what FFmpeg did not read in order and returns the hex
// SHA-256 of the whole source, or "" when it cannot.
func (s *ioState) finishHash(ctx context.Context) string {
	if s.hash == nil {
		return ""
	}
	if !(s.eof && s.pos == s.hashed) {
		if s.seeker == nil || s.r == nil {
			return ""
		}
		if _, err := s.seeker.Seek(s.hashed, io.SeekStart); err != nil {
			return ""
		}
		buf := make([]byte, 256<<10)
		for {
			if ctx.Err() != nil {
				return ""
			}
			n, err := s.r.Read(buf)
			s.hash.Write(buf[:n])
			s.hashed += int64(n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return ""
			}
		}
		if s.size >= 0 && s.hashed != s.size {
			return ""
		}
	}
	return hex.EncodeToString(s.hash.Sum(nil))
}

func (s *ioState) read(b []byte) (int, error) {
	if s.r == nil {
		return 0, astiav.ErrExit
	}
	if err := s.ctx.Err(); err != nil {
		s.readErr = err
		return 0, astiav.ErrExit
	}
	for {
		n, err := s.r.Read(b)
		s.total += int64(n)
		s.feed(b[:n])
		s.pos += int64(n)
		if errors.Is(err, io.EOF) {
			s.eof = true
		}
		if s.size < 0 && s.total > s.limit {
			s.readErr = fmt.Errorf("%w: more than %d bytes", errTooLarge, s.limit)
			return 0, astiav.ErrEio
		}
		if n > 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				s.readErr = err // reported when FFmpeg asks again
			}
			return n, nil
		}
		if s.readErr != nil {
			return 0, astiav.ErrEio
		}
		if errors.Is(err, io.EOF) {
			return 0, astiav.ErrEof
		}
		if err != nil {
			s.readErr = err
			return 0, astiav.ErrEio
		}
	}
}

func (s *ioState) seek(offset int64, whence int) (int64, error) {
	if s.seeker == nil {
		return 0, astiav.ErrExit
	}
	if whence&avseekSize != 0 {
		if s.size < 0 {
			return 0, astiav.ErrEio
		}
		return s.size, nil
	}
	n, err := s.seeker.Seek(offset, whence&^avseekForce)
	if err != nil {
		s.seekErr = err
		return 0, astiav.ErrEio
	}
	s.seekErr = nil
	s.pos, s.eof = n, false
	return n, nil
}

// seekable is implemented by sources that know whether they can seek (an
// HTTP server may ignore Range).
type seekable interface{ Seekable() bool }

// newIOContext gives FFmpeg a Go reader. FFmpeg never opens a file or URL by
// name, so nothing a container says can make it read anything else.
func (d *decoder) newIOContext(ctx context.Context, r io.Reader, size int64) (*astiav.IOContext, error) {
	st := &ioState{ctx: ctx, r: r, size: size, limit: d.cfg.MaxBytes}
	if d.cfg.ContentHash {
		st.hash = sha256.New()
	}
	if s, ok := r.(io.Seeker); ok {
		if sk, ok := r.(seekable); !ok || sk.Seekable() {
			st.seeker = s
		}
	}
	d.io = st
	d.onClose(func() { st.r, st.seeker, st.ctx = nil, nil, context.Background() })
	var seek astiav.IOContextSeekFunc
	if st.seeker != nil {
		seek = st.seek
	}
	return astiav.AllocIOContext(ioBufferSize, false, st.read, seek, nil)
}
