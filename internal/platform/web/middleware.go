package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// contentSecurityPolicy allows nothing inline and nothing from elsewhere:
// scripts and styles come from anzen's own embedded assets.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler returns the server with every request-wide protection around it:
// panic recovery, the access log of anzen itself, security headers, the
// client address, the body limit and cross-origin (CSRF) protection.
func (s *Server) Handler() http.Handler {
	s.fallbacks.Do(func() {
		s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
			s.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		})
		s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			s.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		})
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			s.Problem(w, r, http.StatusForbidden, "cross-origin", "error.cross_origin", nil)
			return
		}
		s.ErrorPage(w, r, http.StatusForbidden, "error.cross_origin")
	}))
	var h http.Handler = s.mux
	h = cop.Handler(h)
	h = s.limitBody(h)
	h = s.securityHeaders(h)
	// clientAddr wraps logRequests so that the log line shows the client
	// behind a trusted proxy, not the proxy.
	h = s.logRequests(h)
	h = s.clientAddr(h)
	return h
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.opt.TLS {
			hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.opt.MaxBodyBytes {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				s.Problem(w, r, http.StatusRequestEntityTooLarge, "body-too-large", "error.body_too_large", nil)
			} else {
				s.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "error.body_too_large")
			}
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// ClientAddr returns the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the last address in X-Forwarded-For
// that is not a trusted proxy.
func ClientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(clientKey).(string); ok {
		return a
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) clientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := s.resolveClient(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey, addr)))
	})
}

func (s *Server) resolveClient(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !s.trusted(host) {
		return host
	}
	xff := r.Header.Values("X-Forwarded-For")
	var hops []string
	for _, v := range xff {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if _, err := netip.ParseAddr(hops[i]); err != nil {
			return host // a malformed header: believe the proxy itself
		}
		if !s.trusted(hops[i]) {
			return hops[i]
		}
	}
	return host
}

func (s *Server) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.opt.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// logRequests writes one line per request to anzen's own log: never the
// query string or body, which may carry secrets.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.opt.Log.Error("panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.Problem(sw, r, http.StatusInternalServerError, "internal", "error.internal", nil)
				}
			}
			lvl := slog.LevelDebug
			if sw.status >= 500 {
				lvl = slog.LevelError
			}
			s.opt.Log.Log(r.Context(), lvl, "http", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "ms", time.Since(start).Milliseconds(), "client", ClientAddr(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

// SafeNext returns next when it is a path on this site, else "/", so that
// a login link cannot send a person elsewhere. Control characters are
// refused anywhere: browsers drop tabs and newlines from URLs, which would
// turn "/\t/evil.example" into "//evil.example".
func SafeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.IndexFunc(next, isControl) >= 0 {
		return "/"
	}
	return next
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func safeNext(uri string) string { return url.QueryEscape(SafeNext(uri)) }
