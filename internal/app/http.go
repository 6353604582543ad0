package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mediavec/mediavec/api"
	"github.com/mediavec/mediavec/search"
	"github.com/mediavec/mediavec/videos"
)

// serve starts the HTTP API (HTTPAddr) and the metrics-only server
// (MetricsAddr) that the configuration asks for.
func (s *Stack) serve(ctx context.Context) error {
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	if s.cfg.HTTPAddr != "" {
		var spaces []string
		for _, sp := range s.analyzer.Spaces() {
			spaces = append(spaces, sp.Name)
		}
		a := &api.API{
			Search: search.NewSearcher(s.analyzer, s.idx),
			Videos: &videos.Service{JS: s.js, Statuses: s.statuses, Index: s.idx, Thumbs: s.thumbs, Spaces: spaces},
			Thumbs: s.thumbs,
			Token:  s.cfg.APIToken,
			// The listen address's own name (an IP is always allowed).
			AllowedHosts: append([]string{hostOf(s.cfg.HTTPAddr)}, s.cfg.AllowedHosts...),
			Metrics:      metrics,
			Ready:        s.ready,
			Logger:       s.cfg.Logger,
		}
		if err := s.listen(ctx, s.cfg.HTTPAddr, a.Handler(), false); err != nil {
			return err
		}
	}
	if s.cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			if err := s.ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ready")
		})
		if err := s.listen(ctx, s.cfg.MetricsAddr, mux, true); err != nil {
			return err
		}
	}
	return nil
}

// hostOf is addr's host, or addr when it has no port.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// listen serves h on addr. Handlers are counted, so Close can wait for
// every one of them before it frees the ONNX sessions they may be running.
func (s *Stack) listen(ctx context.Context, addr string, h http.Handler, probes bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http listen on %s: %w", addr, err)
	}
	reqCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	v := &server{addr: addr, ln: ln, abort: abort, probes: probes}
	v.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v.requests.Add(1)
			defer v.requests.Done()
			h.ServeHTTP(w, r)
		}),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := v.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("http server stopped", "addr", addr, "err", err)
		}
	}()
	s.servers = append(s.servers, v)
	return nil
}

// splitListen reads a host:port listen address; port 0 is any free port.
func splitListen(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", addr)
	}
	if port == 0 {
		port = -1 // the embedded server's "any free port"
	}
	return host, port, nil
}
