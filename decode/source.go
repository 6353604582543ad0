package decode

import (
	"context"
	"errors"
	"fmt"
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
	if len(cfg.Roots) > 0 {
		if err := underRoots(abs, cfg.Roots); err != nil {
			return nil, fail(KindForbidden, err)
		}
	}
	f, err := os.Open(abs)
	switch {
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
	src, err := openHTTP(ctx, newHTTPClient(cfg.HTTP), rawURL, cfg.MaxBytes)
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

// AVSEEK_SIZE and AVSEEK_FORCE, from libavformat/avio.h.
const (
	avseekSize  = 0x10000
	avseekForce = 0x20000
)

// ioBufferSize is the IOContext buffer: large enough that the cgo call per
// read is noise next to demuxing.
const ioBufferSize = 256 << 10

// newIOContext gives FFmpeg a Go reader. FFmpeg never opens a file or URL by
// name, so nothing a container says can make it read anything else.
func (d *decoder) newIOContext(ctx context.Context, r io.Reader, size int64) (*astiav.IOContext, error) {
	limit := d.cfg.MaxBytes
	var total int64
	read := func(b []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			d.ioErr = err
			return 0, astiav.ErrExit
		}
		for {
			n, err := r.Read(b)
			total += int64(n)
			if size < 0 && total > limit {
				d.ioErr = fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
				return 0, astiav.ErrEio
			}
			if n > 0 {
				return n, nil
			}
			if errors.Is(err, io.EOF) {
				return 0, astiav.ErrEof
			}
			if err != nil {
				d.ioErr = err
				return 0, astiav.ErrEio
			}
		}
	}
	var seek astiav.IOContextSeekFunc
	if s, ok := r.(io.Seeker); ok {
		seek = func(offset int64, whence int) (int64, error) {
			if whence&avseekSize != 0 {
				if size < 0 {
					return 0, astiav.ErrEio
				}
				return size, nil
			}
			n, err := s.Seek(offset, whence&^avseekForce)
			if err != nil {
				d.ioErr = err
				return 0, astiav.ErrEio
			}
			return n, nil
		}
	}
	return astiav.AllocIOContext(ioBufferSize, false, read, seek, nil)
}
