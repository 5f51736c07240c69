package app

import (
	"context"
	"errors"
	"time"

	"github.com/anzen-health/anzen/internal/keys"
)

// secretsKey is the key anzen seals its own stored secrets with (TOTP
// secrets first); it is made at start when missing.
const secretsKey = "anzen-secrets"

// secretsRotation is how often secretsKey gets a new version; older
// versions keep decrypting what they sealed.
const secretsRotation = 365 * 24 * time.Hour

// systemActor is anzen itself managing keys.
var systemActor = keys.Actor{Login: "system", Client: "local"}

// keySealer is identity's SecretSealer, made of the key service: envelope
// encryption under secretsKey with the caller's context bound.
type keySealer struct{ keys *keys.Service }

var sealerCaller = keys.SystemCaller("identity")

// Seal encrypts plaintext and returns the ciphertext's text form.
func (k keySealer) Seal(ctx context.Context, plaintext []byte, c map[string]string) (string, error) {
	ct, err := k.keys.Encrypt(ctx, sealerCaller, secretsKey, plaintext, keys.Context(c))
	if err != nil {
		return "", err
	}
	return keys.EncodeText(ct), nil
}

// Open decrypts what Seal returned.
func (k keySealer) Open(ctx context.Context, sealed string, c map[string]string) ([]byte, error) {
	ct, err := keys.DecodeText(sealed)
	if err != nil {
		return nil, err
	}
	return k.keys.Decrypt(ctx, sealerCaller, ct, keys.Context(c))
}

// ensureSecretsKey makes secretsKey when it does not exist yet.
func (a *App) ensureSecretsKey(ctx context.Context) error {
	_, err := a.Keys.Get(ctx, secretsKey)
	if !errors.Is(err, keys.ErrNotFound) {
		return err
	}
	_, err = a.Keys.Create(ctx, systemActor, keys.NewKey{Name: secretsKey, Purpose: keys.PurposeStorage,
		Owner: "anzen", RotationPeriod: secretsRotation})
	var ve *keys.ValidationError
	if errors.As(err, &ve) && ve.Fields["name"] == "keys.validation.duplicate" {
		return nil // another instance sharing the database made it first
	}
	return err
}

// sealSecrets gives identity its sealer and seals what an earlier version
// of anzen stored in the clear.
func (a *App) sealSecrets(ctx context.Context) error {
	if err := a.ensureSecretsKey(ctx); err != nil {
		return err
	}
	a.Identity.SetSecretSealer(keySealer{a.Keys})
	n, err := a.Identity.SealStoredSecrets(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		a.Log.Info("sealed secrets stored in the clear", "count", n, "key", secretsKey)
	}
	return nil
}
