//go:build unix

package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Benchmarks of the key service over HTTP (issue 3: at least 10k envelope
// encryptions or decryptions of 1 KiB a second, with keep-alive);
// docs/benchmarks.md holds the command and the figures of the last run.
//
// The server is the real stack on a loopback port: web.Server with its
// middleware, identity's authenticator checking a real API token (scope
// keys) on every request (answered from memory within session.cache_ttl,
// as by default), and the key service with a token grant, on SQLite
// or PostgreSQL with the real clock. Clients on every core share one
// keep-alive transport.

// httpBench is anzen's API on a loopback server and a token to call it.
type httpBench struct {
	url    string
	token  string
	client *http.Client
}

func newHTTPBench(b *testing.B, d *db.DB) *httpBench {
	b.Helper()
	ctx := context.Background()
	cat := i18n.New()
	for _, f := range []fs.FS{web.Locales(), identity.Locales(), keys.Locales()} {
		if err := cat.Add(f); err != nil {
			b.Fatal(err)
		}
	}
	c := clock.Real{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.New(d, c)
	// The session (and token) cache as configured by default.
	ids, err := identity.New(d, c, rec, identity.Settings{LockoutFailures: 5,
		SessionCacheTTL: config.Default().SessionCacheTTL}, log)
	if err != nil {
		b.Fatal(err)
	}
	ks := keys.New(d, c, rec, log)
	r, err := apiRoot()
	if err != nil {
		b.Fatal(err)
	}
	ks.Unseal(r)
	srv := web.NewServer(web.Options{Log: log, Catalog: cat, DefaultLang: "ja"})
	if err := identity.Register(srv, ids, 1000); err != nil {
		b.Fatal(err)
	}
	if err := keys.Register(srv, ks); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)

	admin := keys.Actor{Login: "bench"}
	if _, err := ks.Create(ctx, admin, keys.NewKey{Name: "bench", Purpose: keys.PurposeStorage}); err != nil {
		b.Fatal(err)
	}
	tok, secret, err := ids.CreateToken(ctx, identity.SystemActor, identity.NewToken{Name: "bench",
		Scopes: []string{"keys"}, Facility: authz.AllFacilities})
	if err != nil {
		b.Fatal(err)
	}
	if err := ks.SetGrants(ctx, admin, "bench", []keys.Grant{{Kind: "token", Subject: itoa(tok.ID),
		Operations: []keys.Operation{keys.OpEncrypt, keys.OpDecrypt}}}); err != nil {
		b.Fatal(err)
	}
	n := runtime.GOMAXPROCS(0) * 4
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n}
	b.Cleanup(tr.CloseIdleConnections)
	return &httpBench{url: hs.URL, token: secret, client: &http.Client{Transport: tr}}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// post sends body to path and decodes the 200 answer into out.
func (hb *httpBench) post(path string, body []byte, out any) error {
	req, err := http.NewRequest("POST", hb.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hb.token)
	resp, err := hb.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return &httpError{resp.StatusCode, string(msg)}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return itoa(int64(e.status)) + " " + e.body }

var benchContext = keys.Context{"patient": "P-000123", "table": "progress_notes", "column": "body"}

func benchPlaintext(b *testing.B) []byte {
	p := make([]byte, 1024)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchDialects(b *testing.B, fn func(b *testing.B, hb *httpBench)) {
	for _, c := range []struct {
		name string
		open func(testing.TB, ...db.Migrations) *db.DB
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(c.name, func(b *testing.B) {
			fn(b, newHTTPBench(b, c.open(b, audit.Migrations(), identity.Migrations(), keys.Migrations())))
		})
	}
}

// BenchmarkHTTPEncrypt1KiB measures POST /api/v1/keys/{name}/encrypt of
// 1 KiB with a three-pair context, from every core at once.
func BenchmarkHTTPEncrypt1KiB(b *testing.B) {
	benchDialects(b, func(b *testing.B, hb *httpBench) {
		body, err := json.Marshal(keys.EncryptRequest{Plaintext: b64(string(benchPlaintext(b))), Context: benchContext})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetParallelism(4)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			var out keys.CiphertextResponse
			for pb.Next() {
				if err := hb.post("/api/v1/keys/bench/encrypt", body, &out); err != nil || !strings.HasPrefix(out.Ciphertext, keys.TextPrefix) {
					b.Errorf("encrypt: %v", err)
					return
				}
			}
		})
		reportRates(b, cpu)
	})
}

// BenchmarkHTTPDecrypt1KiB measures POST /api/v1/keys/decrypt of a 1 KiB
// ciphertext with its context, from every core at once.
func BenchmarkHTTPDecrypt1KiB(b *testing.B) {
	benchDialects(b, func(b *testing.B, hb *httpBench) {
		plain := benchPlaintext(b)
		enc, _ := json.Marshal(keys.EncryptRequest{Plaintext: b64(string(plain)), Context: benchContext})
		var ct keys.CiphertextResponse
		if err := hb.post("/api/v1/keys/bench/encrypt", enc, &ct); err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(keys.CiphertextRequest{Ciphertext: ct.Ciphertext, Context: benchContext})
		want := b64(string(plain))
		b.ReportAllocs()
		b.SetParallelism(4)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			var out keys.PlaintextResponse
			for pb.Next() {
				if err := hb.post("/api/v1/keys/decrypt", body, &out); err != nil || out.Plaintext != want {
					b.Errorf("decrypt: %v", err)
					return
				}
			}
		})
		reportRates(b, cpu)
	})
}

// cpuTime is the CPU time the test process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports operations per second of wall time, the CPU time of
// the whole process (server and clients) per operation, and the rate that
// CPU time allows on all of the machine's cores: the figure to compare
// with the target when other programs share the machine.
func reportRates(b *testing.B, start time.Duration) {
	if b.N == 0 || b.Elapsed() <= 0 {
		return
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if used := cpuTime() - start; start > 0 && used > 0 {
		perOp := float64(used.Nanoseconds()) / float64(b.N)
		b.ReportMetric(perOp, "cpu-ns/op")
		b.ReportMetric(float64(runtime.NumCPU())*1e9/perOp, "ops/s@cpus")
	}
}
