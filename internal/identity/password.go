package identity

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id cost. OWASP's minimum is m=19 MiB, t=2, p=1; anzen uses exactly
// that, which verifies in about 25 ms on one core of the reference machine
// (docs/benchmarks.md), so one core serves more than 30 password logins a
// second. Stored hashes carry their own parameters, so raising these later
// re-hashes at the next password change without breaking old hashes.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// hasher computes argon2id hashes with at most a few at once, so that a
// burst of logins cannot take all memory (19 MiB each). memoryKiB and
// passes are the cost of the hashes it writes; Verify uses the cost stored
// in each hash.
type hasher struct {
	sem       chan struct{}
	memoryKiB uint32
	passes    uint32
	// dummy is a hash of this hasher's cost, verified against when a login
	// name does not exist, so that an unknown name takes as long as a
	// wrong password.
	dummy func() string
}

// Test-only cost (see UseCheapPasswordHashesInTests): argon2id's smallest
// sensible figures, 64 KiB and one pass, about 0.5 ms instead of 1–3 s
// under the race detector on the 2-core CI machine.
const (
	testArgonMemoryKiB = 64
	testArgonTime      = 1
)

// cheapHashes is set only by UseCheapPasswordHashesInTests.
var cheapHashes atomic.Bool

// UseCheapPasswordHashesInTests makes every identity service started
// afterwards in this test binary write argon2id hashes at m=64 KiB, t=1
// instead of anzen's cost. It is for tests that sign people in but do not
// test the hash itself (apptest, the CLI tests): one hash at the real cost
// takes 1–3 s under -race, and each bootstrap, user and sign-in hashes.
// Hashes keep their own parameters, so verification is unchanged. It is
// not a setting: it panics outside a test binary (testing.Testing), so no
// configuration and no production code path can lower the cost. The tests
// of the hash (password_test.go) use newProductionHasher.
func UseCheapPasswordHashesInTests() {
	if !testing.Testing() {
		panic("identity: UseCheapPasswordHashesInTests called outside a test binary")
	}
	cheapHashes.Store(true)
}

// newHasher returns a hasher at anzen's cost, or at the test-only cost in
// a test binary that asked for it.
func newHasher() *hasher {
	if cheapHashes.Load() {
		return newHasherAt(testArgonMemoryKiB, testArgonTime)
	}
	return newProductionHasher()
}

// newProductionHasher returns a hasher at anzen's cost, whatever a test
// asked for.
func newProductionHasher() *hasher { return newHasherAt(argonMemoryKiB, argonTime) }

func newHasherAt(memoryKiB, passes uint32) *hasher {
	h := &hasher{sem: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), memoryKiB: memoryKiB, passes: passes}
	h.dummy = sync.OnceValue(func() string {
		d, _ := h.Hash("anzen-dummy-password-for-timing")
		return d
	})
	return h
}

// Hash returns the PHC string of password with a fresh salt.
func (h *hasher) Hash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h.sem <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, h.passes, h.memoryKiB, argonThreads, argonKeyLen)
	<-h.sem
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.memoryKiB, h.passes,
		argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("stored password hash is not a valid argon2id PHC string")

// Verify reports whether password matches the PHC string phc.
func (h *hasher) Verify(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadHash
	}
	var m uint32
	var t uint32
	var p uint8
	// Sscanf ignores what follows the last number; the round trip does not.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 ||
		m > 1<<21 || t > 64 || parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errBadHash
	}
	h.sem <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	<-h.sem
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// PasswordPolicy is the password rule set in force.
type PasswordPolicy struct {
	Profile string // mhlw, nist or custom
	// For the custom profile:
	MinLength  int
	MinClasses int
	MaxAge     time.Duration
	History    int
}

// MHLWMaxAge is the longest an 8-to-12-character password may stay in use
// under the mhlw profile without a second factor: the guideline's "at least
// every two months".
const MHLWMaxAge = 60 * 24 * time.Hour

// Rules returns the figures of the policy for a user who has (or must have)
// a second factor or not: minimum length, minimum character classes, and
// the longest a password of that length may be kept (0: no forced change).
// longAfter is the length from which no change is forced (0: none).
func (p PasswordPolicy) Rules(secondFactor bool) (minLen, minClasses int, maxAge time.Duration, longAt int) {
	switch p.Profile {
	case "nist":
		if secondFactor {
			return 8, 0, 0, 0
		}
		return 15, 0, 0, 0
	case "custom":
		return p.MinLength, p.MinClasses, p.MaxAge, 0
	default: // mhlw: guideline 6.5 C, options a, b and c
		if secondFactor {
			return 8, 3, 0, 0
		}
		return 8, 3, MHLWMaxAge, 13
	}
}

// classes counts the character classes in s: upper case, lower case,
// digits, and everything else (symbols, kana, kanji).
func classes(s string) int {
	var up, low, dig, other bool
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			up = true
		case unicode.IsLower(r):
			low = true
		case unicode.IsDigit(r):
			dig = true
		default:
			other = true
		}
	}
	n := 0
	for _, b := range []bool{up, low, dig, other} {
		if b {
			n++
		}
	}
	return n
}

// MaxPasswordLength bounds what anzen hashes, so that a huge input cannot
// cost much (NIST asks to allow at least 64).
const MaxPasswordLength = 256

// checkPassword applies the policy to a new password and returns the
// message ids of every rule it breaks.
func (p PasswordPolicy) checkPassword(password, login string, secondFactor bool) []string {
	minLen, minClasses, _, _ := p.Rules(secondFactor)
	var out []string
	n := utf8.RuneCountInString(password)
	if !utf8.ValidString(password) {
		return []string{"password.rule.utf8"}
	}
	if n < minLen {
		out = append(out, "password.rule.length")
	}
	if n > MaxPasswordLength {
		out = append(out, "password.rule.too_long")
	}
	if minClasses > 0 && classes(password) < minClasses {
		out = append(out, "password.rule.classes")
	}
	if login != "" && strings.Contains(strings.ToLower(password), strings.ToLower(login)) {
		out = append(out, "password.rule.login")
	}
	if isCommonPassword(password) {
		out = append(out, "password.rule.common")
	}
	return out
}

// expired reports whether a password set at changed, long or not, must be
// changed at now under the policy.
func (p PasswordPolicy) expired(changed time.Time, long, secondFactor bool, now time.Time) bool {
	_, _, maxAge, _ := p.Rules(secondFactor)
	if maxAge == 0 || long || changed.IsZero() {
		return false
	}
	return now.Sub(changed) > maxAge
}

// isLong reports whether a password is long enough to be exempt from
// forced change under the policy.
func (p PasswordPolicy) isLong(password string) bool {
	_, _, _, longAt := p.Rules(false)
	return longAt > 0 && utf8.RuneCountInString(password) >= longAt
}

//go:embed data/common-passwords.txt
var commonPasswordsFile string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = struct{}{}
		}
	}
	return m
})

// isCommonPassword reports whether password (ignoring case) is on the
// shipped list of common passwords, alone or followed by digits and symbols.
func isCommonPassword(password string) bool {
	lower := strings.ToLower(password)
	list := commonPasswords()
	if _, ok := list[lower]; ok {
		return true
	}
	trimmed := strings.TrimRightFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	if len(trimmed) >= 4 && trimmed != lower {
		_, ok := list[trimmed]
		return ok
	}
	return false
}

// RandomPassword returns a password that meets every profile: 20
// characters from a set without look-alike characters, with every class.
func RandomPassword() string {
	const (
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lower  = "abcdefghijkmnopqrstuvwxyz"
		digits = "23456789"
		syms   = "-_.!#%+"
	)
	all := upper + lower + digits + syms
	for {
		b := make([]byte, 20)
		for i := range b {
			b[i] = all[randIndex(len(all))]
		}
		s := string(b)
		if classes(s) == 4 && !isCommonPassword(s) {
			return s
		}
	}
}

func randIndex(n int) int {
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n
		}
	}
}
