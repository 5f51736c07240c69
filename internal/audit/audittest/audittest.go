// Package audittest helps tests of the audit log and of the parts that
// write to it or read from it: a checkpoint key held in memory and
// realistic access events of a fictional hospital.
package audittest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/audit"
)

// Signer is an audit.CheckpointSigner whose Ed25519 keys live in memory.
// Rotate adds a new version, as the key service's rotation does.
type Signer struct {
	mu   sync.Mutex
	keys []ed25519.PrivateKey // oldest first
}

// NewSigner returns a signer with one key.
func NewSigner() *Signer {
	s := &Signer{}
	s.Rotate()
	return s
}

// Rotate makes a new key the one that signs; the older ones still verify.
func (s *Signer) Rotate() {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.keys = append(s.keys, priv)
	s.mu.Unlock()
}

// Signer returns a note signer of the newest key, named name.
func (s *Signer) Signer(_ context.Context, name string) (note.Signer, error) {
	s.mu.Lock()
	priv := s.keys[len(s.keys)-1]
	s.mu.Unlock()
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return signer{name: name, hash: v.KeyHash(), priv: priv}, nil
}

// VerifierKeys returns the verifier keys of every key, newest first.
func (s *Signer) VerifierKeys(_ context.Context, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i := len(s.keys) - 1; i >= 0; i-- {
		vkey, err := note.NewEd25519VerifierKey(name, s.keys[i].Public().(ed25519.PublicKey))
		if err != nil {
			return nil, err
		}
		out = append(out, vkey)
	}
	return out, nil
}

type signer struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s signer) Name() string                    { return s.name }
func (s signer) KeyHash() uint32                 { return s.hash }
func (s signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// Start is when the events of Event happen, 09:00 in Tokyo on 1 April 2026.
var Start = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

var (
	professions = []string{"doctor", "nurse", "pharmacist", "clerk", "radiologist"}
	departments = []string{"内科", "外科", "小児科", "薬剤部", "放射線科", "医事課"}
	actions     = []string{"view", "view", "view", "view", "update", "search", "print", "create", "export", "login"}
)

// Event returns the i-th access event of a fictional hospital's EHR: one
// of 300 staff viewing or changing the record of one of 50,000 patients,
// one second after the one before, with an original record as an EHR
// would send it (about 300 bytes of JSON).
func Event(i int) audit.Event {
	user := i % 300
	at := Start.Add(time.Duration(i) * time.Second)
	e := audit.Event{
		Seq:      -1,
		Time:     at,
		Received: at.Add(40 * time.Millisecond),
		Facility: 1,
		Source:   "ehr-main",
		Actor: audit.Actor{ID: fmt.Sprintf("u%04d", user), Name: fmt.Sprintf("職員 %d", user),
			Profession: professions[user%len(professions)], Department: departments[user%len(departments)],
			Terminal: fmt.Sprintf("WS-%03d", user%120), Address: fmt.Sprintf("10.1.%d.%d", user/250, user%250+1)},
		Action:  actions[i%len(actions)],
		Patient: audit.Patient{ID: fmt.Sprintf("P%07d", (i*7919)%50000)},
		Object:  audit.Object{Type: "record", ID: fmt.Sprintf("R%09d", i)},
		Outcome: audit.OutcomeSuccess,
		Purpose: "treatment",
		Session: fmt.Sprintf("s-%d-%d", user, i/50),
		Format:  audit.FormatJSON,
	}
	e.Original = fmt.Appendf(nil, `{"time":%q,"source":"ehr-main","actor":{"id":%q,"name":%q,"profession":%q,"department":%q,"terminal":%q,"address":%q},"action":%q,"patient":{"id":%q},"object":{"type":"record","id":%q},"outcome":"success","purpose":"treatment","session":%q}`,
		at.Format(time.RFC3339Nano), e.Actor.ID, e.Actor.Name, e.Actor.Profession, e.Actor.Department, e.Actor.Terminal,
		e.Actor.Address, e.Action, e.Patient.ID, e.Object.ID, e.Session)
	return e
}

// Events returns Event(from) ... Event(from+n-1).
func Events(from, n int) []audit.Event {
	out := make([]audit.Event, n)
	for i := range out {
		out[i] = Event(from + i)
	}
	return out
}
