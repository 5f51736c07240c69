package keys

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// freshDB returns a new, empty database of the same dialect as d.
func freshDB(t *testing.T, d *db.DB) *db.DB {
	t.Helper()
	if d.Dialect() == db.Postgres {
		return dbtest.Postgres(t, testParts...)
	}
	return dbtest.SQLite(t, testParts...)
}

func TestBackup_RestoresIntoANewStoreWithANewRootAndOldDataStaysReadable(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		src := newEnv(t, d)
		ctx := context.Background()
		src.create(t, "ehr", PurposeStorage, "")
		src.create(t, "pseudonyms", PurposeIntegration, HMACSHA256)
		src.create(t, "rx-sign", PurposeSigning, ECDSAP256)
		ec := Context{"patient": "P-7"}
		oldCT, err := src.svc.Encrypt(ctx, system, "ehr", []byte("version 1 data"), ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.svc.Rotate(ctx, admin, "ehr"); err != nil {
			t.Fatal(err)
		}
		ct, err := src.svc.Encrypt(ctx, system, "ehr", []byte("アレルギー：ペニシリン"), ec)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := src.svc.RequestDestroy(ctx, admin, "ehr", 1, "retention over")
		if _, err := src.svc.ApproveDestroy(ctx, admin2, req.ID); err != nil {
			t.Fatal(err)
		}
		mac, _ := src.svc.HMAC(ctx, system, "pseudonyms", []byte("P-7"))
		sig, _ := src.svc.Sign(ctx, system, "rx-sign", []byte("prescription"))
		grants := []Grant{{Kind: "role", Subject: "staff", Operations: []Operation{OpEncrypt, OpDecrypt}}}
		if err := src.svc.SetGrants(ctx, admin, "ehr", grants); err != nil {
			t.Fatal(err)
		}
		ca := newTestCA(t, src.clock.Now())
		csr, _ := src.svc.CSR(ctx, admin, "rx-sign", pkix.Name{CommonName: "rx"})
		if _, err := src.svc.ImportCertificate(ctx, admin, "rx-sign", ca.issue(t, csr, src.clock.Now(), 365, "Pharmacist")); err != nil {
			t.Fatal(err)
		}

		public, private, err := GenerateRecoveryKey()
		if err != nil {
			t.Fatal(err)
		}
		var progress []int
		file, err := src.svc.ExportBackup(ctx, admin, public, WithProgress(func(done, total int) {
			progress = append(progress, done*100+total)
		}))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(progress, []int{103, 203, 303}) {
			t.Errorf("progress calls: %v", progress)
		}
		if rec := auditActions(t, src, "key.backup.export"); len(rec) != 1 || rec[0].Detail["keys"] != "3" ||
			rec[0].Detail["versions_with_material"] != "3" {
			t.Errorf("export record: %+v", rec)
		}

		// A new installation: another database, another root.
		d2 := freshDB(t, d)
		dst := newEnv(t, d2)
		root2, err := CreateLocalRoot(filepath.Join(t.TempDir(), "root.json"), "another unseal passphrase")
		if err != nil {
			t.Fatal(err)
		}
		dst.svc.Unseal(root2)
		_, wrongPrivate, _ := GenerateRecoveryKey()
		tampered := bytes.Clone(file)
		tampered[len(tampered)-5] ^= 1
		for name, tt := range map[string]struct {
			file, key []byte
			want      error
		}{
			"the wrong recovery key":    {file, wrongPrivate, ErrRecoveryKey},
			"an altered file":           {tampered, private, ErrRecoveryKey},
			"the public half":           {file, public, ErrNotRecoveryKey},
			"not a backup":              {[]byte("hello, this is not a backup file"), private, ErrNotBackup},
			"a truncated header":        {file[:10], private, ErrNotBackup},
			"a header with no contents": {file[:backupHeaderSize], private, ErrRecoveryKey},
		} {
			if _, err := dst.svc.ImportBackup(ctx, admin, tt.file, tt.key); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", name, err, tt.want)
			}
		}
		if list, _ := dst.svc.List(ctx); len(list) != 0 {
			t.Fatalf("failed imports left %d keys", len(list))
		}
		res, err := dst.svc.ImportBackup(ctx, admin, file, private)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Imported, []string{"ehr", "pseudonyms", "rx-sign"}) || len(res.Skipped) != 0 {
			t.Fatalf("import result: %+v", res)
		}
		if got, err := dst.svc.Decrypt(ctx, system, ct, ec); err != nil || string(got) != "アレルギー：ペニシリン" {
			t.Fatalf("old ciphertext after restore: %q %v", got, err)
		}
		if _, err := dst.svc.Decrypt(ctx, system, oldCT, ec); !errors.Is(err, ErrVersion) {
			t.Errorf("the destroyed version came back: %v", err)
		}
		if err := dst.svc.Verify(ctx, system, []byte("P-7"), mac); err != nil {
			t.Errorf("HMAC after restore: %v", err)
		}
		if err := dst.svc.Verify(ctx, system, []byte("prescription"), sig); err != nil {
			t.Errorf("signature after restore: %v", err)
		}
		if g, _ := dst.svc.Grants(ctx, "ehr"); len(g) != 1 || g[0].Subject != "staff" {
			t.Errorf("grants after restore: %+v", g)
		}
		if certs, _ := dst.svc.Certificates(ctx, "rx-sign"); len(certs) != 1 || certs[0].HPKIRoles[0].Text != "Pharmacist" {
			t.Errorf("certificates after restore: %+v", certs)
		}
		if k, _ := dst.svc.Get(ctx, "ehr"); len(k.Versions) != 2 || k.Versions[0].State != Destroyed || k.Versions[1].Root != "local" {
			t.Errorf("versions after restore: %+v", k.Versions)
		}
		// New keys after the restore do not collide with the restored ids.
		dst.create(t, "after-restore", PurposeStorage, "")
		if _, err := dst.svc.Encrypt(ctx, system, "after-restore", []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		// A second import conflicts and changes nothing.
		_, err = dst.svc.ImportBackup(ctx, admin, file, private)
		var ce *ConflictError
		if !errors.As(err, &ce) || len(ce.Names) != 3 {
			t.Fatalf("second import: %v", err)
		}
		if list, _ := dst.svc.List(ctx); len(list) != 4 {
			t.Fatalf("%d keys after the refused import", len(list))
		}
		imports, _, _ := dst.log.Search(ctx, audit.Filter{Action: "key.backup.import", AllFacilities: true})
		restores, _, _ := dst.log.Search(ctx, audit.Filter{Action: "key.restore", AllFacilities: true})
		if len(imports) != 1 || len(restores) != 3 {
			t.Errorf("audit: %d imports, %d restores", len(imports), len(restores))
		}
	})
}

func TestBackup_HSMKeysAreListedWithoutMaterial(t *testing.T) {
	src := newEnv(t, dbtest.SQLite(t, testParts...))
	hsm := newFakeHSM(t)
	src.svc.Unseal(hsm)
	ctx := context.Background()
	src.create(t, "hsm-sign", PurposeSigning, Ed25519)
	src.create(t, "records", PurposeStorage, "")
	public, private, _ := GenerateRecoveryKey()
	file, err := src.svc.ExportBackup(ctx, admin, public)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openBackup(file, private)
	if err != nil {
		t.Fatal(err)
	}
	if b.Notice != BackupNotice || len(b.Keys) != 2 || !b.Keys[0].Versions[0].InHSM ||
		len(b.Keys[0].Versions[0].Material) != 0 || len(b.Keys[1].Versions[0].Material) != 32 {
		t.Fatalf("backup contents: %+v", b.Keys)
	}

	// Restored under a local root, the HSM key is skipped; under the same
	// HSM it comes back and signs there.
	local := newEnv(t, dbtest.SQLite(t, testParts...))
	res, err := local.svc.ImportBackup(ctx, admin, file, private)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Imported, []string{"records"}) || len(res.Skipped) != 1 ||
		res.Skipped[0] != (SkippedKey{Name: "hsm-sign", Reason: "keys.backup.skip_hsm_root"}) {
		t.Fatalf("under a local root: %+v", res)
	}
	same := newEnv(t, dbtest.SQLite(t, testParts...))
	same.svc.Unseal(hsm)
	if res, err := same.svc.ImportBackup(ctx, admin, file, private); err != nil || len(res.Imported) != 2 {
		t.Fatalf("under the same HSM: %+v %v", res, err)
	}
	if _, err := same.svc.Sign(ctx, system, "hsm-sign", []byte("x")); err != nil {
		t.Fatalf("the restored HSM key signs: %v", err)
	}
}

func TestRecoveryKey_TextFormsRoundTrip(t *testing.T) {
	public, private, err := GenerateRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(public, []byte(RecoveryPublicPrefix)) || !bytes.HasPrefix(private, []byte(RecoveryPrivatePrefix)) {
		t.Fatalf("text forms: %.40q %.40q", public, private)
	}
	sk, err := parseRecoveryPrivate(append([]byte("  "), private...))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := parseRecoveryPublic(public)
	if err != nil || !bytes.Equal(pk.Bytes(), sk.PublicKey().Bytes()) {
		t.Fatalf("halves do not match: %v", err)
	}
	fp, err := RecoveryKeyFingerprint(public)
	if err != nil || len(fp) != 2*fingerprintLen {
		t.Fatalf("fingerprint %q %v", fp, err)
	}
	for _, bad := range []string{"", RecoveryPublicPrefix, RecoveryPublicPrefix + "!!", RecoveryPublicPrefix + "AAAA"} {
		if _, err := parseRecoveryPublic([]byte(bad)); !errors.Is(err, ErrNotRecoveryKey) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestBackup_ExistingKeysConflictUnlessAnUnusedNamesake(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		src := newEnv(t, d)
		src.create(t, "ehr", PurposeStorage, "")
		ct, err := src.svc.Encrypt(ctx, system, "ehr", []byte("カルテ"), nil)
		if err != nil {
			t.Fatal(err)
		}
		public, private, _ := GenerateRecoveryKey()
		file, err := src.svc.ExportBackup(ctx, admin, public)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			prepare  func(e *env)
			conflict bool
		}{
			{"an unused namesake, as anzen makes at its first start, is replaced", func(e *env) {
				e.create(t, "ehr", PurposeStorage, "")
			}, false},
			{"a namesake that encrypted something", func(e *env) {
				e.create(t, "ehr", PurposeStorage, "")
				if _, err := e.svc.Encrypt(ctx, system, "ehr", []byte("new data"), nil); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"a namesake with grants", func(e *env) {
				e.create(t, "ehr", PurposeStorage, "")
				if err := e.svc.SetGrants(ctx, admin, "ehr", []Grant{{Kind: "role", Subject: "staff",
					Operations: []Operation{OpEncrypt}}}); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"a namesake rotated once", func(e *env) {
				e.create(t, "ehr", PurposeStorage, "")
				if _, err := e.svc.Rotate(ctx, admin, "ehr"); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"another key on the backup key's id", func(e *env) {
				e.create(t, "local-only", PurposeStorage, "")
			}, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dst := newEnv(t, freshDB(t, d))
				tt.prepare(dst)
				before, _ := dst.svc.List(ctx)
				res, err := dst.svc.ImportBackup(ctx, admin, file, private)
				if tt.conflict {
					var ce *ConflictError
					if !errors.As(err, &ce) || !errors.Is(err, ErrBackupConflict) {
						t.Fatalf("import: %+v %v, want a conflict", res, err)
					}
					if after, _ := dst.svc.List(ctx); len(after) != len(before) || after[0].Versions[0].CreatedAt != before[0].Versions[0].CreatedAt {
						t.Fatalf("a refused import changed the keys: %+v", after)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got, err := dst.svc.Decrypt(ctx, system, ct, nil); err != nil || string(got) != "カルテ" {
					t.Fatalf("decrypt after replacing the unused key: %q %v", got, err)
				}
				rec := auditActions(t, dst, "key.restore")
				if len(rec) != 1 || rec[0].Detail["replaced_unused_key_id"] == "" {
					t.Errorf("restore record: %+v", rec)
				}
			})
		}
	})
}
