package keys_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/keys/hsmtest"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// envelopeService is a key service on SQLite with the system clock, as in
// production: key metadata is read again every few seconds and every use
// is counted for the usage audit.
func envelopeService(b *testing.B, r keys.Root) *keys.Service {
	b.Helper()
	d := dbtest.SQLite(b, rootParts...)
	s := keys.New(d, clock.Real{}, audit.New(d, clock.Real{}), nil)
	s.Unseal(r)
	return s
}

// reportOpsPerSecond reports the operations per second of the whole machine.
func reportOpsPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// benchSerialParallel measures op alone and from every core at once
// (b.RunParallel, one goroutine per GOMAXPROCS).
func benchSerialParallel(b *testing.B, op func() error) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		reportOpsPerSecond(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOpsPerSecond(b)
	})
}

var envelopeContext = keys.Context{"patient": "P-000123", "table": "notes", "column": "body"}

func randomKiB(b *testing.B) []byte {
	p := make([]byte, 1024)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkEncrypt1KiB is in-process envelope encryption of 1 KiB under the
// local root: a fresh data key per object, wrapped by the key version, and
// an encryption context of three pairs.
func BenchmarkEncrypt1KiB(b *testing.B) {
	s := envelopeService(b, newTestLocalRoot(b))
	ctx := context.Background()
	if _, err := s.Create(ctx, rootAdmin, keys.NewKey{Name: "bench", Purpose: keys.PurposeStorage}); err != nil {
		b.Fatal(err)
	}
	plain := randomKiB(b)
	benchSerialParallel(b, func() error {
		_, err := s.Encrypt(ctx, rootCaller, "bench", plain, envelopeContext)
		return err
	})
}

// BenchmarkDecrypt1KiB is in-process envelope decryption of 1 KiB under the
// local root.
func BenchmarkDecrypt1KiB(b *testing.B) {
	s := envelopeService(b, newTestLocalRoot(b))
	ctx := context.Background()
	if _, err := s.Create(ctx, rootAdmin, keys.NewKey{Name: "bench", Purpose: keys.PurposeStorage}); err != nil {
		b.Fatal(err)
	}
	ct, err := s.Encrypt(ctx, rootCaller, "bench", randomKiB(b), envelopeContext)
	if err != nil {
		b.Fatal(err)
	}
	benchSerialParallel(b, func() error {
		_, err := s.Decrypt(ctx, rootCaller, ct, envelopeContext)
		return err
	})
}

// BenchmarkSignSoftHSM signs with an ECDSA P-256 key held in SoftHSM,
// through the key service (SHA-256 in anzen, CKM_ECDSA in the HSM).
func BenchmarkSignSoftHSM(b *testing.B) {
	cfg := hsmtest.New(b)
	s := envelopeService(b, hsmtest.Open(b, cfg))
	ctx := context.Background()
	if _, err := s.Create(ctx, rootAdmin, keys.NewKey{Name: "bench-sign", Purpose: keys.PurposeSigning,
		Algorithm: keys.ECDSAP256}); err != nil {
		b.Fatal(err)
	}
	msg := []byte("checkpoint 42 of the audit log")
	benchSerialParallel(b, func() error {
		_, err := s.Sign(ctx, rootCaller, "bench-sign", msg)
		return err
	})
}
