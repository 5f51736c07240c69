package keys

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// TextPrefix begins the text form of every ciphertext, signature, MAC and
// wrapped data key: "anzen:" and the base64url of the binary form.
const TextPrefix = "anzen:"

// The binary form starts with a header that names what it is:
//
//	"AZ" | format (1) | kind (1) | key id (uvarint) | version (uvarint) | algorithm (1)
//
// and then the body of the kind:
//
//	kindCiphertext: nonce (12) | wrapped DEK length (uvarint) | wrapped DEK | data nonce (12) | data
//	kindDataKey:    nonce (12) | wrapped DEK
//	kindSignature:  signature
//	kindMAC:        mac
//
// The data key (DEK) is wrapped under the key version with the whole header
// and the context digest as associated data; the data is sealed under the
// DEK with the key id and the context digest only, so that rewrap can move
// the DEK to a new version without touching, or ever seeing, the data.
const (
	formatV1 = 1

	kindCiphertext = 'E'
	kindDataKey    = 'K'
	kindSignature  = 'S'
	kindMAC        = 'M'
)

var algCodes = map[Algorithm]byte{AES256GCM: 1, HMACSHA256: 2, Ed25519: 3, ECDSAP256: 4, RSAPSS3072: 5}

func algOf(code byte) (Algorithm, bool) {
	for a, c := range algCodes {
		if c == code {
			return a, true
		}
	}
	return "", false
}

// header is the parsed start of a blob.
type header struct {
	Kind    byte
	KeyID   int64
	Version int
	Alg     Algorithm
}

func (h header) append(b []byte) []byte {
	b = append(b, 'A', 'Z', formatV1, h.Kind)
	b = binary.AppendUvarint(b, uint64(h.KeyID))
	b = binary.AppendUvarint(b, uint64(h.Version))
	return append(b, algCodes[h.Alg])
}

// parseHeader reads the header of b and returns the rest.
func parseHeader(b []byte) (header, []byte, error) {
	var h header
	if len(b) < 7 || b[0] != 'A' || b[1] != 'Z' || b[2] != formatV1 {
		return h, nil, ErrMalformed
	}
	h.Kind = b[3]
	rest := b[4:]
	id, n := binary.Uvarint(rest)
	if n <= 0 || id == 0 || id > 1<<62 {
		return h, nil, ErrMalformed
	}
	rest = rest[n:]
	v, n := binary.Uvarint(rest)
	if n <= 0 || v == 0 || v > 1<<30 {
		return h, nil, ErrMalformed
	}
	rest = rest[n:]
	if len(rest) < 1 {
		return h, nil, ErrMalformed
	}
	alg, ok := algOf(rest[0])
	if !ok {
		return h, nil, ErrMalformed
	}
	h.KeyID, h.Version, h.Alg = int64(id), int(v), alg
	return h, rest[1:], nil
}

// headerLen returns the length of the header at the start of b.
func headerLen(b []byte) int {
	_, rest, err := parseHeader(b)
	if err != nil {
		return 0
	}
	return len(b) - len(rest)
}

// EncodeText returns the text form of a binary blob.
func EncodeText(b []byte) string { return TextPrefix + base64.RawURLEncoding.EncodeToString(b) }

// DecodeText returns the binary form of a blob's text form; surrounding
// white space is ignored.
func DecodeText(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, TextPrefix)
	if !ok {
		return nil, ErrMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, ErrMalformed
	}
	return b, nil
}

// Context is an encryption context: non-secret key/value pairs (patient
// id, table, column ...) bound to a ciphertext. Decryption needs the same
// pairs; their order does not matter.
type Context map[string]string

// Limits of a context.
const (
	MaxContextPairs = 32
	MaxContextLen   = 256
)

// validate checks the context and returns an error naming the bad pair.
func (c Context) validate() error {
	if len(c) > MaxContextPairs {
		return fmt.Errorf("%w: more than %d context pairs", ErrContext, MaxContextPairs)
	}
	for k, v := range c {
		if k == "" || len(k) > MaxContextLen || len(v) > MaxContextLen || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: context key %q is empty, too long or not UTF-8", ErrContext, clip(k))
		}
	}
	return nil
}

// Keys lists the context's keys, sorted (usage records name the keys,
// never the values, which may identify a patient).
func (c Context) Keys() []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// digest is the SHA-256 of the canonical encoding of the context: pairs in
// key order, each string prefixed by its length.
func (c Context) digest() [32]byte {
	h := sha256.New()
	var buf []byte
	for _, k := range c.Keys() {
		buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
		buf = append(buf, k...)
		v := c[k]
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
		h.Write(buf)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// ParseContext reads "k=v" pairs, as the CLI takes them.
func ParseContext(pairs []string) (Context, error) {
	c := Context{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("context %q: expected key=value", clip(p))
		}
		if _, dup := c[k]; dup {
			return nil, fmt.Errorf("context key %q given twice", clip(k))
		}
		c[k] = v
	}
	return c, c.validate()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
