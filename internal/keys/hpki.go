package keys

import (
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The HPKI role (hcRole) of ISO 17090, as the MHLW HPKI certificate policy
// profiles it: an attribute id-hcpki-at-healthcareactor in the certificate's
// subjectDirectoryAttributes extension, whose value is
//
//	HCActorData ::= SET OF HCActor
//	HCActor     ::= SEQUENCE { codedData [0] CodedData, regionalHCActorData [1] SEQUENCE OF RegionalData OPTIONAL }
//	CodedData   ::= SET { codingSchemeReference [0] OBJECT IDENTIFIER,
//	                      codeDataValue [1] NumericString OPTIONAL, codeDataFreeText [2] DirectoryString }
//
// with explicit tags; Japan's HPKI names its qualifications ("Medical
// Doctor", "Pharmacist" ...) under the coding scheme id-jhpki-cdata. No Go
// library parses it, so it is read here with cryptobyte; the raw extension
// is kept beside the parsed roles in any case.
var (
	oidSubjectDirectoryAttributes = asn1.ObjectIdentifier{2, 5, 29, 9}
	// OIDHCActor is id-hcpki-at-healthcareactor (1.0.17090.0.1), the hcRole attribute.
	OIDHCActor = asn1.ObjectIdentifier{1, 0, 17090, 0, 1}
	// OIDJHPKICodingScheme is id-jhpki-cdata (1.2.392.100495.1.6.1.1), the
	// coding scheme of Japan's HPKI qualifications.
	OIDJHPKICodingScheme = asn1.ObjectIdentifier{1, 2, 392, 100495, 1, 6, 1, 1}
)

// HPKIRole is one hcRole of a certificate: the coding scheme, the code when
// there is one, and the role's text.
type HPKIRole struct {
	Scheme string `json:"scheme"`
	Code   string `json:"code,omitempty"`
	Text   string `json:"text"`
}

var errHCRole = errors.New("malformed hcRole attribute")

// parseHCRoles reads the hcRoles of a subjectDirectoryAttributes extension
// value. found reports whether the extension has an hcRole attribute at
// all (even one that could not be read).
func parseHCRoles(ext []byte) (roles []HPKIRole, found bool, err error) {
	in := cryptobyte.String(ext)
	var attrs cryptobyte.String
	if !in.ReadASN1(&attrs, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false, errHCRole
	}
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&typ) ||
			!attr.ReadASN1(&values, cbasn1.SET) {
			return nil, found, errHCRole
		}
		if !typ.Equal(OIDHCActor) {
			continue
		}
		found = true
		for !values.Empty() {
			var actors cryptobyte.String
			if !values.ReadASN1(&actors, cbasn1.SET) {
				return nil, found, errHCRole
			}
			for !actors.Empty() {
				r, err := parseHCActor(&actors)
				if err != nil {
					return nil, found, err
				}
				roles = append(roles, r)
			}
		}
	}
	return roles, found, nil
}

func parseHCActor(actors *cryptobyte.String) (HPKIRole, error) {
	var r HPKIRole
	var actor, wrapped, coded cryptobyte.String
	if !actors.ReadASN1(&actor, cbasn1.SEQUENCE) ||
		!actor.ReadASN1(&wrapped, cbasn1.Tag(0).ContextSpecific().Constructed()) ||
		!wrapped.ReadASN1(&coded, cbasn1.SET) {
		return r, errHCRole
	}
	for !coded.Empty() {
		var field cryptobyte.String
		var tag cbasn1.Tag
		if !coded.ReadAnyASN1(&field, &tag) {
			return r, errHCRole
		}
		switch tag {
		case cbasn1.Tag(0).ContextSpecific().Constructed():
			var oid asn1.ObjectIdentifier
			if !field.ReadASN1ObjectIdentifier(&oid) {
				return r, errHCRole
			}
			r.Scheme = oid.String()
		case cbasn1.Tag(1).ContextSpecific().Constructed():
			var v cryptobyte.String
			var t cbasn1.Tag
			if !field.ReadAnyASN1(&v, &t) {
				return r, errHCRole
			}
			r.Code = directoryString(t, v)
		case cbasn1.Tag(2).ContextSpecific().Constructed():
			var v cryptobyte.String
			var t cbasn1.Tag
			if !field.ReadAnyASN1(&v, &t) {
				return r, errHCRole
			}
			r.Text = directoryString(t, v)
		}
	}
	if r.Scheme == "" {
		return r, errHCRole
	}
	return r, nil
}

// directoryString decodes the string types a DirectoryString or
// NumericString may have; anything else is shown in hex.
func directoryString(tag cbasn1.Tag, v []byte) string {
	switch tag {
	case cbasn1.UTF8String, cbasn1.PrintableString, cbasn1.IA5String, cbasn1.Tag(18), cbasn1.T61String:
		if utf8.Valid(v) {
			return string(v)
		}
	case cbasn1.Tag(30): // BMPString: UTF-16 big-endian
		if len(v)%2 == 0 {
			u := make([]uint16, len(v)/2)
			for i := range u {
				u[i] = binary.BigEndian.Uint16(v[2*i:])
			}
			return string(utf16.Decode(u))
		}
	}
	return "#" + hex.EncodeToString(v)
}
