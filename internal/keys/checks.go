package keys

// The key service's live evidence for the compliance centre (guideline
// 6.11 B-1 ④: keys managed per purpose, private signing keys kept in a
// storage device that meets the issuing CA's policy; 6.12 C-1: certificates
// in date). Keys are the organisation's, not a facility's, so these checks
// ignore the facility they are given. The checks' names and details are
// messages of locales/checks.*.toml.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
)

// Catalog items the checks give evidence for.
const (
	itemKeyManagement = "mhlw-gl-5.1:6.11-B-1-4"
	itemCertificates  = "mhlw-gl-5.1:6.12-C-1"
)

// RotationGrace is how long past its rotation date a key may stay before
// the rotation check fails rather than warns: the background job rotates
// due keys every few minutes, so a key overdue for longer means the job is
// not running or keeps failing.
const RotationGrace = 24 * time.Hour

// CertificateWarnDays is how many days before its end a signing key's
// certificate makes the certificates check warn.
const CertificateWarnDays = 30

// checkListNames is how many keys a detail names at most.
const checkListNames = 5

// Links of the checks' results.
var (
	linkKeys         = check.Link{LabelID: "keys.check.link.keys", Href: "/keys"}
	linkSoftSigning  = check.Link{LabelID: "keys.check.link.soft_signing", Href: "/keys#hsm-warning"}
	linkCertificates = check.Link{LabelID: "keys.check.link.certificates", Href: "/keys/certificates"}
)

// Checks returns the key service's checks, for the compliance centre.
func (s *Service) Checks() []check.Check {
	return []check.Check{
		{ID: "keys.rotation", TitleID: "keys.check.rotation.title", Items: []string{itemKeyManagement},
			Run: s.checkRotation},
		{ID: "keys.signing_hsm", TitleID: "keys.check.signing_hsm.title", Items: []string{itemKeyManagement},
			Run: s.checkSigningHSM},
		{ID: "keys.certificates", TitleID: "keys.check.certificates.title",
			Items: []string{itemKeyManagement, itemCertificates}, Run: s.checkCertificates},
	}
}

// names joins up to checkListNames entries for a detail, and says how many
// more there are.
func names(list []string) (joined string, more int) {
	return strings.Join(list[:min(len(list), checkListNames)], ", "), max(0, len(list)-checkListNames)
}

func (s *Service) checkRotation(ctx context.Context, _ int64) (check.Result, error) {
	list, err := s.List(ctx)
	if err != nil {
		return check.Result{}, err
	}
	if len(list) == 0 {
		return check.NA("keys.check.rotation.no_keys").WithLinks(linkKeys), nil
	}
	now := s.clock.Now()
	var late, due []string
	scheduled := 0
	for _, k := range list {
		if k.RotationPeriod > 0 {
			scheduled++
		}
		if !k.Overdue(now) {
			continue
		}
		if now.Sub(k.NextRotation()) >= RotationGrace {
			late = append(late, k.Name)
		} else {
			due = append(due, k.Name)
		}
	}
	kv := []any{"keys", len(list), "scheduled", scheduled, "grace_hours", int(RotationGrace / time.Hour)}
	if len(late) > 0 {
		n, more := names(late)
		return check.Failed("keys.check.rotation.fail",
			append(kv, "count", len(late), "names", n, "more", more)...).WithLinks(linkKeys), nil
	}
	if len(due) > 0 {
		n, more := names(due)
		return check.Warned("keys.check.rotation.due",
			append(kv, "count", len(due), "names", n, "more", more)...).WithLinks(linkKeys), nil
	}
	return check.Passed("keys.check.rotation.pass", kv...).WithLinks(linkKeys), nil
}

// checkSigningHSM looks at the keys that sign. A key of purpose "signing"
// is the kind a CA certifies under its policy (HPKI, e-prescriptions), whose
// private key the guideline wants in a storage device that meets the
// policy: held in software, it fails, as does any signing key a CA has
// certified (a certificate was imported for it). The audit-checkpoint key
// signs only anzen's own log checkpoints, under no CA's policy: held in
// software and uncertified, it warns.
func (s *Service) checkSigningHSM(ctx context.Context, _ int64) (check.Result, error) {
	list, err := s.List(ctx)
	if err != nil {
		return check.Result{}, err
	}
	certified, err := s.certifiedKeys(ctx)
	if err != nil {
		return check.Result{}, err
	}
	var signing, caSoft, ownSoft []string
	for _, k := range list {
		if !k.Purpose.NeedsHSM() || !holdsMaterial(k) {
			continue
		}
		signing = append(signing, k.Name)
		soft := k.SoftwareSigningVersions()
		if len(soft) == 0 {
			continue
		}
		label := k.Name + " (" + versionsText(soft) + ")"
		if k.Purpose == PurposeSigning || certified[k.Name] {
			caSoft = append(caSoft, label)
		} else {
			ownSoft = append(ownSoft, label)
		}
	}
	if len(signing) == 0 {
		return check.NA("keys.check.signing_hsm.no_keys").WithLinks(linkKeys), nil
	}
	kv := []any{"keys", len(signing)}
	if len(caSoft) > 0 {
		n, more := names(caSoft)
		return check.Failed("keys.check.signing_hsm.fail",
			append(kv, "count", len(caSoft), "names", n, "more", more, "own", len(ownSoft))...).WithLinks(linkSoftSigning), nil
	}
	if len(ownSoft) > 0 {
		n, more := names(ownSoft)
		return check.Warned("keys.check.signing_hsm.own_soft",
			append(kv, "count", len(ownSoft), "names", n, "more", more)...).WithLinks(linkSoftSigning), nil
	}
	return check.Passed("keys.check.signing_hsm.pass", kv...).WithLinks(linkKeys), nil
}

// certifiedKeys names the keys for which a certificate has been imported.
func (s *Service) certifiedKeys(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT k.name FROM keys_certificates c JOIN keys_keys k ON k.id = c.key_id`)
	if err != nil {
		return nil, fmt.Errorf("read certified keys: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out[name] = true
	}
	return out, rows.Err()
}

// holdsMaterial reports whether some version of k still has key material.
func holdsMaterial(k *Key) bool {
	for _, v := range k.Versions {
		if v.State != Destroyed {
			return true
		}
	}
	return false
}

// versionsText writes versions as "v1, v2".
func versionsText(vs []int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = "v" + strconv.Itoa(v)
	}
	return strings.Join(parts, ", ")
}

// checkCertificates looks at the newest certificate of each signing key's
// active version, as ExpiringCertificates does.
func (s *Service) checkCertificates(ctx context.Context, _ int64) (check.Result, error) {
	var certified int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT c.key_id) FROM keys_certificates c
		JOIN keys_versions v ON v.key_id = c.key_id AND v.version = c.version WHERE v.state = ?`,
		string(Active)).Scan(&certified); err != nil {
		return check.Result{}, fmt.Errorf("count certified keys: %w", err)
	}
	if certified == 0 {
		return check.NA("keys.check.certificates.none").WithLinks(linkCertificates), nil
	}
	now := s.clock.Now()
	list, err := s.ExpiringCertificates(ctx, now)
	if err != nil {
		return check.Result{}, err
	}
	var expired, soon []string
	for _, c := range list {
		switch {
		case !now.Before(c.NotAfter):
			expired = append(expired, c.Key+" ("+c.NotAfter.Format(time.DateOnly)+")")
		case c.NotAfter.Sub(now) <= CertificateWarnDays*24*time.Hour:
			soon = append(soon, c.Key+" ("+c.NotAfter.Format(time.DateOnly)+")")
		}
	}
	kv := []any{"keys", certified, "days", CertificateWarnDays}
	if len(expired) > 0 {
		n, more := names(expired)
		return check.Failed("keys.check.certificates.expired",
			append(kv, "count", len(expired), "names", n, "more", more, "soon", len(soon))...).WithLinks(linkCertificates), nil
	}
	if len(soon) > 0 {
		n, more := names(soon)
		return check.Warned("keys.check.certificates.expiring",
			append(kv, "count", len(soon), "names", n, "more", more)...).WithLinks(linkCertificates), nil
	}
	return check.Passed("keys.check.certificates.pass", kv...).WithLinks(linkCertificates), nil
}
