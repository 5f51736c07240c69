package identity

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// WebAuthn (security keys, passkeys, platform biometrics) serves here as a
// second factor after the password: the user is known before the ceremony
// begins, so logins list the user's keys (allowCredentials) and no
// discoverable credential is needed. go-webauthn checks every response;
// this file keeps the ceremony state with the session, stores the
// credential records and records each change in the audit log.
//
// The user handle sent to authenticators is the user's numeric id as 8
// bytes big-endian: stable for the life of the account, unique, and no
// personal data.

// ceremonyTTL is how long a begun ceremony may be finished; it is also
// the timeout the browser is given.
const ceremonyTTL = 5 * time.Minute

// Kinds of ceremony.
const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
)

// KeyNameMax is the longest name a person may give a key, in characters.
const KeyNameMax = 64

// ceremony is what identity_sessions.challenge holds between begin and
// finish: the library's session data, its kind, and when it lapses by
// anzen's clock.
type ceremony struct {
	Kind    string               `json:"kind"`
	Expires int64                `json:"expires"` // unix ms
	Data    webauthn.SessionData `json:"data"`
}

// Errors of the WebAuthn ceremonies; the handlers map each to a problem
// type.
var (
	// ErrNoCeremony is a finish without a matching begin on the same
	// session, or one whose begin has lapsed or was already used.
	ErrNoCeremony = errors.New("no security key ceremony in progress")
	// ErrWebAuthnInvalid is a registration response that does not verify.
	ErrWebAuthnInvalid = errors.New("security key registration refused")
	// ErrWebAuthnDuplicate is a key that is already registered.
	ErrWebAuthnDuplicate = errors.New("security key already registered")
	// ErrNoWebAuthnKeys is a login ceremony for a user without keys.
	ErrNoWebAuthnKeys = errors.New("user has no security keys")
	// ErrWebAuthnUnavailable means the relying party cannot be set up,
	// typically because the public URL names an IP address.
	ErrWebAuthnUnavailable = errors.New("WebAuthn unavailable: the public URL must name a host, not an IP address")
	// ErrCloneWarning refuses an assertion whose signature counter did not
	// advance: two copies of the key may exist. It is an ErrSecondFactor.
	ErrCloneWarning = fmt.Errorf("%w: signature counter did not advance, the key may have been cloned", ErrSecondFactor)
)

// relyingParty returns the WebAuthn relying party of this anzen.
func (s *Service) relyingParty() (*webauthn.WebAuthn, error) {
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  s.set.RPID,
		RPDisplayName:         "anzen",
		RPOrigins:             s.set.RPOrigins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", ErrWebAuthnUnavailable, err)
	}
	return wa, nil
}

// webauthnUser adapts a User and its credential records to webauthn.User.
type webauthnUser struct {
	u     *User
	creds []webauthn.Credential
}

func newWebAuthnUser(u *User, stored []storedCredential) *webauthnUser {
	wu := &webauthnUser{u: u}
	for _, sc := range stored {
		wu.creds = append(wu.creds, sc.cred)
	}
	return wu
}

// WebAuthnID is the user handle: the user id, 8 bytes big-endian.
func (w *webauthnUser) WebAuthnID() []byte { return userHandle(w.u.ID) }

// WebAuthnName is the login id, which the authenticator may show.
func (w *webauthnUser) WebAuthnName() string { return w.u.Login }

// WebAuthnDisplayName is the person's name, or the login id without one.
func (w *webauthnUser) WebAuthnDisplayName() string {
	if w.u.Name != "" {
		return w.u.Name
	}
	return w.u.Login
}

// WebAuthnCredentials lists the user's registered credentials.
func (w *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func userHandle(id int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(id))
	return b
}

// BeginWebAuthnRegistration starts registering a new key for u and keeps
// the ceremony with the session sessionHash. The options exclude the keys
// the user already has, so an authenticator refuses to register twice.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, u *User, sessionHash string) (*protocol.CredentialCreation, error) {
	wa, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	stored, err := webauthnCredentials(ctx, s.db, u.ID)
	if err != nil {
		return nil, err
	}
	wu := newWebAuthnUser(u, stored)
	creation, data, err := wa.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("begin registration: %w", err)
	}
	c := ceremony{Kind: ceremonyRegister, Expires: db.Millis(s.clock.Now().Add(ceremonyTTL)), Data: *data}
	if err := s.saveCeremony(ctx, sessionHash, c); err != nil {
		return nil, err
	}
	return creation, nil
}

// FinishWebAuthnRegistration checks the authenticator's response to the
// ceremony begun on the session and stores the new key under name. In the
// same transaction it makes recovery codes when the user has none unused
// (returned, to be shown once), records "mfa.enrol", and calls then (when
// not nil) so that the caller can finish a sign-in atomically with it.
//
// A name that is empty or too long is a *ValidationError and leaves the
// ceremony in place; any other failure uses it up.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, by Actor, u *User, sessionHash, name string,
	response []byte, then func(*db.Tx) error) (WebAuthnKey, []string, error) {
	var ve ValidationError
	checkText(&ve, "name", name, true, KeyNameMax)
	if err := ve.orNil(); err != nil {
		return WebAuthnKey{}, nil, err
	}
	c, err := s.takeCeremony(ctx, sessionHash, ceremonyRegister)
	if err != nil {
		return WebAuthnKey{}, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return WebAuthnKey{}, nil, fmt.Errorf("%w: %w", ErrWebAuthnInvalid, err)
	}
	wa, err := s.relyingParty()
	if err != nil {
		return WebAuthnKey{}, nil, err
	}
	stored, err := webauthnCredentials(ctx, s.db, u.ID)
	if err != nil {
		return WebAuthnKey{}, nil, err
	}
	cred, err := wa.CreateCredential(newWebAuthnUser(u, stored), c.Data, parsed)
	if err != nil {
		return WebAuthnKey{}, nil, fmt.Errorf("%w: %w", ErrWebAuthnInvalid, err)
	}
	now := s.clock.Now()
	key := WebAuthnKey{Name: name, CreatedAt: now}
	var codes []string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := lockFactors(ctx, tx, u.ID, now); err != nil {
			return err
		}
		if key.ID, err = insertWebAuthn(ctx, tx, u.ID, name, cred, now); err != nil {
			if db.IsUniqueViolation(err) {
				return ErrWebAuthnDuplicate
			}
			return fmt.Errorf("store security key: %w", err)
		}
		if codes, err = s.ensureRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, tx, by.event("mfa.enrol", "user:"+u.Login, "success", u.Facility,
			map[string]string{"factor": "webauthn", "key": fmt.Sprint(key.ID), "name": name})); err != nil {
			return err
		}
		if then != nil {
			return then(tx)
		}
		return nil
	})
	if err != nil {
		return WebAuthnKey{}, nil, err
	}
	return key, codes, nil
}

// BeginWebAuthnLogin starts an assertion with one of u's keys as the
// second factor, and keeps the ceremony with the session sessionHash.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, u *User, sessionHash string) (*protocol.CredentialAssertion, error) {
	wa, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	stored, err := webauthnCredentials(ctx, s.db, u.ID)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		return nil, ErrNoWebAuthnKeys
	}
	assertion, data, err := wa.BeginLogin(newWebAuthnUser(u, stored))
	if err != nil {
		return nil, fmt.Errorf("begin login: %w", err)
	}
	c := ceremony{Kind: ceremonyLogin, Expires: db.Millis(s.clock.Now().Add(ceremonyTTL)), Data: *data}
	if err := s.saveCeremony(ctx, sessionHash, c); err != nil {
		return nil, err
	}
	return assertion, nil
}

// FinishWebAuthnLogin checks an assertion against the ceremony begun on
// the session. On success it writes back the key's signature counter and
// time of use and calls then (when not nil) in the same transaction, so
// that the session is promoted only together with the counter. An
// assertion that does not verify is ErrSecondFactor; one whose counter did
// not advance is ErrCloneWarning, and the key is left as it was.
func (s *Service) FinishWebAuthnLogin(ctx context.Context, u *User, sessionHash string, response []byte,
	then func(*db.Tx) error) error {
	c, err := s.takeCeremony(ctx, sessionHash, ceremonyLogin)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSecondFactor, err)
	}
	wa, err := s.relyingParty()
	if err != nil {
		return err
	}
	stored, err := webauthnCredentials(ctx, s.db, u.ID)
	if err != nil {
		return err
	}
	cred, err := wa.ValidateLogin(newWebAuthnUser(u, stored), c.Data, parsed)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSecondFactor, err)
	}
	if cred.Authenticator.CloneWarning {
		return ErrCloneWarning
	}
	var used storedCredential
	for _, sc := range stored {
		if string(sc.cred.ID) == string(cred.ID) {
			used = sc
		}
	}
	if used.id == 0 {
		return ErrSecondFactor // removed between begin and finish
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		ok, err := useWebAuthn(ctx, tx, used, cred, s.clock.Now())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: the key was used or removed meanwhile", ErrSecondFactor)
		}
		if then != nil {
			return then(tx)
		}
		return nil
	})
}

// RemoveWebAuthnKey removes one of u's keys. It refuses with ErrLastFactor
// to remove the only second factor of a user whose role requires one, and
// with ErrNotFound a key that is not u's.
func (s *Service) RemoveWebAuthnKey(ctx context.Context, by Actor, u *User, keyID int64) error {
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := lockFactors(ctx, tx, u.ID, now); err != nil {
			return err
		}
		var name string
		err := tx.QueryRowContext(ctx, `SELECT name FROM identity_webauthn WHERE id = ? AND user_id = ?`, keyID, u.ID).
			Scan(&name)
		if err != nil {
			return db.NotFound(err)
		}
		if s.MFARequired(u) {
			n, err := factorCount(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return ErrLastFactor
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_webauthn WHERE id = ? AND user_id = ?`, keyID, u.ID); err != nil {
			return fmt.Errorf("remove security key: %w", err)
		}
		return s.audit.Record(ctx, tx, by.event("mfa.remove", "user:"+u.Login, "success", u.Facility,
			map[string]string{"factor": "webauthn", "key": fmt.Sprint(keyID), "name": name}))
	})
}
