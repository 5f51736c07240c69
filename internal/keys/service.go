package keys

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Migrations returns the part's schema history.
func Migrations() db.Migrations {
	sq, _ := fs.Sub(migrationsFS, "migrations/sqlite")
	pg, _ := fs.Sub(migrationsFS, "migrations/postgres")
	return db.Migrations{Part: "keys", SQLite: sq, Postgres: pg}
}

// metaTTL is how long a key's states and grants are trusted from memory
// before they are read again; another anzen instance's disable or destroy
// takes effect here within it.
const metaTTL = 5 * time.Second

// Service is the key service.
type Service struct {
	db    *db.DB
	clock clock.Clock
	audit selfaudit.Recorder
	log   *slog.Logger

	rootMu sync.RWMutex
	root   Root // nil while sealed

	mu       sync.RWMutex
	meta     map[int64]*cachedKey
	byName   map[string]int64
	material map[versionRef]*material

	usage *usage
}

type versionRef struct {
	key     int64
	version int
}

type cachedKey struct {
	key    *Key
	grants []Grant
	read   time.Time
}

// material is one version's usable key: what its algorithm needs.
type material struct {
	aead   cipher.AEAD
	secret []byte // HMAC key
	signer crypto.Signer
	public crypto.PublicKey
}

// New returns the key service, sealed until Unseal gives it a root.
func New(d *db.DB, c clock.Clock, rec selfaudit.Recorder, log *slog.Logger) *Service {
	if c == nil {
		c = clock.Real{}
	}
	if log == nil {
		log = slog.Default()
	}
	// Uses are counted by the minute of the service's clock, so that a
	// frozen clock in tests (and the usage chart) agree with it.
	u := newUsage()
	u.now = c.Now
	return &Service{db: d, clock: c, audit: rec, log: log, meta: map[int64]*cachedKey{},
		byName: map[string]int64{}, material: map[versionRef]*material{}, usage: u}
}

// Unseal gives the service its root of trust.
func (s *Service) Unseal(r Root) {
	s.rootMu.Lock()
	s.root = r
	s.rootMu.Unlock()
}

// Root returns the root of trust, or ErrSealed.
func (s *Service) Root() (Root, error) {
	s.rootMu.RLock()
	defer s.rootMu.RUnlock()
	if s.root == nil {
		return nil, ErrSealed
	}
	return s.root, nil
}

func materialAAD(keyID int64, version int) []byte {
	return []byte("anzen-key|" + strconv.FormatInt(keyID, 10) + "|" + strconv.Itoa(version))
}

// generated is new key material: the stored form and what to use now.
type generated struct {
	wrapped []byte // material wrapped by the root ("" for HSM keys)
	hsmID   string
	public  []byte // PKIX DER of the public key
	inHSM   bool
}

// generate makes the material of version v of key k under root r. Signing
// keys are made inside the HSM when the root is one.
func generate(r Root, keyID int64, v int, alg Algorithm, label string) (generated, error) {
	var g generated
	if hsm, ok := r.(HSM); ok && alg.Signing() {
		id, pub, err := hsm.GenerateSigner(label, alg)
		if err != nil {
			return g, fmt.Errorf("generate signing key in the HSM: %w", err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return g, err
		}
		return generated{hsmID: id, public: der, inHSM: true}, nil
	}
	var raw []byte
	switch alg {
	case AES256GCM, HMACSHA256:
		raw = make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return g, err
		}
	default:
		priv, err := newPrivateKey(alg)
		if err != nil {
			return g, err
		}
		if raw, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
			return g, err
		}
		if g.public, err = x509.MarshalPKIXPublicKey(priv.Public()); err != nil {
			return g, err
		}
	}
	w, err := r.Wrap(raw, materialAAD(keyID, v))
	clear(raw)
	if err != nil {
		return g, fmt.Errorf("wrap key material: %w", err)
	}
	g.wrapped = w
	return g, nil
}

func newPrivateKey(alg Algorithm) (crypto.Signer, error) {
	switch alg {
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSAPSS3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, ErrOperation
}

// storedVersion is a version row as kept in the database.
type storedVersion struct {
	Version
	material string
	hsmID    string
}

// unwrap turns a stored version into usable material.
func (s *Service) unwrap(keyID int64, alg Algorithm, sv storedVersion) (*material, error) {
	r, err := s.Root()
	if err != nil {
		return nil, err
	}
	m := &material{}
	if sv.hsmID != "" {
		hsm, ok := r.(HSM)
		if !ok {
			return nil, fmt.Errorf("key %d version %d is held by an HSM, but the root is %s", keyID, sv.Version.Version, r.Kind())
		}
		if m.signer, err = hsm.Signer(sv.hsmID, alg); err != nil {
			return nil, fmt.Errorf("find signing key in the HSM: %w", err)
		}
		m.public = m.signer.Public()
		return m, nil
	}
	wrapped, err := base64.StdEncoding.DecodeString(sv.material)
	if err != nil || len(wrapped) == 0 {
		return nil, ErrVersion
	}
	raw, err := r.Unwrap(wrapped, materialAAD(keyID, sv.Version.Version))
	if err != nil {
		return nil, fmt.Errorf("unwrap key %d version %d: %w", keyID, sv.Version.Version, err)
	}
	switch alg {
	case AES256GCM:
		m.aead, err = newAEAD(raw)
		clear(raw)
	case HMACSHA256:
		m.secret = raw
	default:
		var priv any
		priv, err = x509.ParsePKCS8PrivateKey(raw)
		clear(raw)
		if err == nil {
			signer, ok := priv.(crypto.Signer)
			if !ok {
				return nil, ErrOperation
			}
			m.signer, m.public = signer, signer.Public()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load key %d version %d: %w", keyID, sv.Version.Version, err)
	}
	return m, nil
}

// key returns the key with the given id, from memory when read recently.
func (s *Service) key(ctx context.Context, id int64) (*cachedKey, error) {
	now := s.clock.Now()
	s.mu.RLock()
	ck, ok := s.meta[id]
	s.mu.RUnlock()
	if ok && now.Sub(ck.read) < metaTTL {
		return ck, nil
	}
	k, err := s.load(ctx, "id = ?", id)
	if err != nil {
		return nil, err
	}
	grants, err := s.loadGrants(ctx, id)
	if err != nil {
		return nil, err
	}
	ck = &cachedKey{key: k, grants: grants, read: now}
	s.mu.Lock()
	s.meta[id] = ck
	s.byName[k.Name] = id
	for _, v := range k.Versions {
		if v.State == Destroyed {
			delete(s.material, versionRef{id, v.Version})
		}
	}
	s.mu.Unlock()
	return ck, nil
}

// keyByName returns the key with the given name.
func (s *Service) keyByName(ctx context.Context, name string) (*cachedKey, error) {
	s.mu.RLock()
	id, ok := s.byName[name]
	s.mu.RUnlock()
	if !ok {
		var err error
		if err = s.db.QueryRowContext(ctx, `SELECT id FROM keys_keys WHERE name = ?`, name).Scan(&id); err != nil {
			if db.NotFound(err) == db.ErrNotFound {
				return nil, ErrNotFound
			}
			return nil, err
		}
	}
	return s.key(ctx, id)
}

// forget drops a key from memory after a change, so the next use reads it.
func (s *Service) forget(id int64) {
	s.mu.Lock()
	delete(s.meta, id)
	s.mu.Unlock()
}

// versionMaterial returns usable material of version v, unwrapping it once.
func (s *Service) versionMaterial(ctx context.Context, k *Key, v int) (*material, error) {
	ref := versionRef{k.ID, v}
	s.mu.RLock()
	m, ok := s.material[ref]
	s.mu.RUnlock()
	if ok {
		return m, nil
	}
	sv, err := s.storedVersion(ctx, k.ID, v)
	if err != nil {
		return nil, err
	}
	if m, err = s.unwrap(k.ID, k.Algorithm, sv); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.material[ref] = m
	s.mu.Unlock()
	return m, nil
}
