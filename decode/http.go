package decode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HTTPPolicy is what an http(s) source may reach and how long it may take.
type HTTPPolicy struct {
	// AllowPrivate lets sources resolve to loopback, link-local, private
	// (RFC 1918, ULA), CGNAT and unspecified addresses. Off by default:
	// an upload URL must never reach the fleet's own network.
	AllowPrivate bool
	// AllowHosts, when not empty, are the only host names allowed
	// (exact match, or a suffix match for entries starting with ".").
	AllowHosts []string
	// DenyHosts are host names never allowed (same matching).
	DenyHosts []string
	// ConnectTimeout bounds each TCP+TLS connect. Defaults to
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// ReadTimeout bounds each wait for bytes from the server. Defaults to
	// DefaultReadTimeout.
	ReadTimeout time.Duration
}

// The defaults of HTTPPolicy.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultReadTimeout    = 15 * time.Second
)

func (p HTTPPolicy) withDefaults() HTTPPolicy {
	p.ConnectTimeout = cmp.Or(p.ConnectTimeout, DefaultConnectTimeout)
	p.ReadTimeout = cmp.Or(p.ReadTimeout, DefaultReadTimeout)
	return p
}

var errForbiddenAddr = errors.New("address not allowed")

// checkHost applies the host lists.
func (p HTTPPolicy) checkHost(host string) error {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	match := func(list []string) bool {
		for _, h := range list {
			h = strings.ToLower(h)
			if host == h || (strings.HasPrefix(h, ".") && strings.HasSuffix(host, h)) {
				return true
			}
		}
		return false
	}
	if match(p.DenyHosts) {
		return fmt.Errorf("host %s is denied", host)
	}
	if len(p.AllowHosts) > 0 && !match(p.AllowHosts) {
		return fmt.Errorf("host %s is not in the allow list", host)
	}
	return nil
}

// checkAddr refuses internal addresses. It runs on the address actually
// dialled, after DNS, for every connection including redirects, so neither
// a DNS answer nor a redirect can steer a fetch inside the network.
func (p HTTPPolicy) checkAddr(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP", errForbiddenAddr, host)
	}
	if p.AllowPrivate {
		return nil
	}
	if internalAddr(ip) {
		return fmt.Errorf("%w: %s is an internal address", errForbiddenAddr, ip)
	}
	return nil
}

// nonPublic are ranges that are not on the public internet beyond what
// netip's predicates cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
}

// internalAddr reports whether ip must not be fetched from. IPv6 forms that
// embed an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
func internalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
			return internalAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(ip):
			return internalAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// httpSource reads an http(s) resource as an io.ReadSeeker, seeking with
// Range requests when the server supports them (mp4 files with the index at
// the end need that).
type httpSource struct {
	ctx      context.Context
	client   *http.Client
	url      string
	size     int64 // -1 when unknown
	seekable bool
	pos      int64
	body     io.ReadCloser
	read     int64 // bytes transferred, across seeks
	maxRead  int64
	err      error // sticky: after a failed seek every read fails
}

// Seekable reports whether the server honours Range requests.
func (s *httpSource) Seekable() bool { return s.seekable }

func newHTTPClient(p HTTPPolicy) *http.Client {
	dialer := &net.Dialer{
		Timeout: p.ConnectTimeout,
		Control: func(network, address string, _ syscall.RawConn) error { return p.checkAddr(address) },
	}
	tr := &http.Transport{
		Proxy: nil, // a proxy would dial on our behalf and bypass checkAddr
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &deadlineConn{Conn: c, timeout: p.ReadTimeout}, nil
		},
		TLSHandshakeTimeout:   p.ConnectTimeout,
		ResponseHeaderTimeout: p.ReadTimeout,
		MaxIdleConnsPerHost:   2,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s scheme", req.URL.Scheme)
			}
			return p.checkHost(req.URL.Hostname())
		},
	}
}

// deadlineConn gives every read its own deadline: a server that stalls
// mid-body fails the read instead of holding a worker forever.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

// openHTTP starts the download and learns the size and whether Range works.
func openHTTP(ctx context.Context, client *http.Client, url string, maxBytes int64) (*httpSource, error) {
	s := &httpSource{ctx: ctx, client: client, url: url, size: -1, maxRead: 2 * maxBytes}
	resp, err := s.get(0)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		s.seekable = true
		if _, total, ok := strings.Cut(resp.Header.Get("Content-Range"), "/"); ok {
			if n, err := strconv.ParseInt(total, 10, 64); err == nil {
				s.size = n
			}
		}
	case http.StatusOK:
		s.size = resp.ContentLength
	default:
		resp.Body.Close()
		return nil, &httpStatusError{code: resp.StatusCode}
	}
	if s.size > maxBytes {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes, limit is %d", errTooLarge, s.size, maxBytes)
	}
	s.body = resp.Body
	return s, nil
}

var errTooLarge = errors.New("source too large")

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return fmt.Sprintf("HTTP %d", e.code) }

// transient: 5xx and 429 may go away; 4xx will not.
func (e *httpStatusError) transient() bool { return e.code >= 500 || e.code == 429 }

func (s *httpSource) get(from int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", "bytes="+strconv.FormatInt(from, 10)+"-")
	req.Header.Set("User-Agent", "mediavec")
	return s.client.Do(req)
}

func (s *httpSource) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.body == nil {
		return 0, io.EOF
	}
	// Seeking re-downloads; cap what one source may transfer in all.
	if s.read >= s.maxRead {
		s.err = fmt.Errorf("%w: more than %d bytes transferred", errTooLarge, s.maxRead)
		return 0, s.err
	}
	if left := s.maxRead - s.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := s.body.Read(p)
	s.pos += int64(n)
	s.read += int64(n)
	return n, err
}

func (s *httpSource) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = s.pos + offset
	case io.SeekEnd:
		if s.size < 0 {
			return 0, errors.New("seek from end: size unknown")
		}
		abs = s.size + offset
	}
	if abs == s.pos {
		return abs, nil
	}
	if !s.seekable {
		return 0, errors.New("server does not support range requests")
	}
	if abs < 0 || (s.size >= 0 && abs > s.size) {
		return 0, fmt.Errorf("seek to %d outside 0..%d", abs, s.size)
	}
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	s.pos = abs
	if s.size >= 0 && abs == s.size {
		return abs, nil
	}
	resp, err := s.get(abs)
	if err == nil && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		err = &httpStatusError{code: resp.StatusCode}
	}
	if err != nil {
		s.err = err
		return 0, err
	}
	s.body = resp.Body
	return abs, nil
}

func (s *httpSource) Size() int64 { return s.size }

func (s *httpSource) Close() error {
	if s.body != nil {
		return s.body.Close()
	}
	return nil
}
