package api

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// guard wraps the routes with what a browser-facing API on a shared
// machine needs: a Host allow-list (DNS rebinding), cross-origin
// protection for state-changing requests (CSRF), and headers that stop a
// response being sniffed, framed or cached.
func (a *API) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, fmt.Errorf("cross-origin %s refused: send it from this API's own page, or without a browser", r.Method))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		// Probes and scrapers address the process by its IP or service
		// name and learn nothing from it, so they skip the Host check.
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		if !a.hostAllowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Errorf("this API does not answer to host %q; allow it with --allowed-hosts", hostOnly(r.Host)))
			return
		}
		cop.Handler(next).ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a request's Host names this API. A DNS
// rebinding attack needs a name the attacker controls that resolves to
// this machine, so IP literals and localhost are always fine; any other
// name must be listed in AllowedHosts ("*" allows every name,
// ".example.com" a domain and its subdomains).
func (a *API) hostAllowed(host string) bool {
	name := strings.ToLower(hostOnly(host))
	if name == "" {
		return false
	}
	if net.ParseIP(name) != nil || name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, allowed := range a.AllowedHosts {
		allowed = strings.ToLower(hostOnly(allowed))
		switch {
		case allowed == "*", allowed == name:
			return true
		case strings.HasPrefix(allowed, ".") && (strings.HasSuffix(name, allowed) || name == allowed[1:]):
			return true
		}
	}
	return false
}

// hostOnly is a Host header or address without its port and brackets.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
