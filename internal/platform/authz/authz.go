// Package authz holds anzen's roles, the permissions every part declares,
// and the Principal a request acts as.
//
// A part declares each permission once with Define, naming the roles that
// hold it and the API-token scopes that carry it. Roles are granted to a
// user per facility (施設), so a CSIRT member of a hospital group may act in
// every facility while a ward nurse acts only in her own. The route × role
// test in internal/app walks every route with every role against this table.
package authz

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Role is a named set of permissions granted to a user in a facility.
type Role string

// The roles anzen knows. Auditors read everything and change nothing.
const (
	Admin   Role = "admin"
	CISO    Role = "ciso"
	CSIRT   Role = "csirt"
	Auditor Role = "auditor"
	Staff   Role = "staff"
	Vendor  Role = "vendor"
)

// Roles lists every role, in the order pages show them.
var Roles = []Role{Admin, CISO, CSIRT, Auditor, Staff, Vendor}

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (allowed: admin, ciso, csirt, auditor, staff, vendor)", s)
}

// Kind says whether a permission only reads or also changes something.
type Kind int

// The kinds of permission.
const (
	Read Kind = iota
	Write
)

// Permission names one thing a caller may do, such as "users.manage".
type Permission string

// Spec declares a permission.
type Spec struct {
	Name   string
	Kind   Kind
	Roles  []Role   // roles that hold it
	Scopes []string // API-token scopes that carry it
}

var (
	mu     sync.RWMutex
	specs  = map[Permission]Spec{}
	scopes = map[string]bool{}
)

// Define registers a permission and returns it. It panics on a duplicate
// name or when a write permission is given to the auditor role, since both
// are programming errors found at start-up.
func Define(s Spec) Permission {
	mu.Lock()
	defer mu.Unlock()
	p := Permission(s.Name)
	if _, dup := specs[p]; dup {
		panic("authz: permission defined twice: " + s.Name)
	}
	if s.Kind == Write && slices.Contains(s.Roles, Auditor) {
		panic("authz: auditors change nothing, yet write permission " + s.Name + " names them")
	}
	specs[p] = s
	for _, sc := range s.Scopes {
		scopes[sc] = true
	}
	return p
}

// Lookup returns the declaration of p.
func Lookup(p Permission) (Spec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	s, ok := specs[p]
	return s, ok
}

// Permissions lists every declared permission, sorted.
func Permissions() []Permission {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Permission, 0, len(specs))
	for p := range specs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Scopes lists every API-token scope some permission carries, sorted.
func Scopes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(scopes))
	for s := range scopes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ValidScope reports whether s is a scope some permission carries.
func ValidScope(s string) bool {
	mu.RLock()
	defer mu.RUnlock()
	return scopes[s]
}

// RoleHas reports whether role r holds permission p.
func RoleHas(r Role, p Permission) bool {
	s, ok := Lookup(p)
	return ok && slices.Contains(s.Roles, r)
}

// ScopeHas reports whether API-token scope sc carries permission p.
func ScopeHas(sc string, p Permission) bool {
	s, ok := Lookup(p)
	return ok && slices.Contains(s.Scopes, sc)
}

// AllFacilities in a Grant means the role holds in every facility.
const AllFacilities int64 = 0

// Grant is one role held in one facility, or in all of them.
type Grant struct {
	Role     Role  `json:"role"`
	Facility int64 `json:"facility"` // AllFacilities (0) for every facility
}

// Principal is who a request acts as: a signed-in user or an API token.
type Principal struct {
	UserID   int64
	Login    string
	Name     string
	Facility int64 // the user's home facility
	Grants   []Grant
	Lang     string

	SessionID     string   // set for a browser or API session
	TokenID       int64    // set for an API token
	Scopes        []string // the token's scopes
	TokenFacility int64
}

// Can reports whether the principal holds p in at least one facility.
func (pr *Principal) Can(p Permission) bool {
	if pr == nil {
		return false
	}
	if pr.TokenID != 0 {
		for _, sc := range pr.Scopes {
			if ScopeHas(sc, p) {
				return true
			}
		}
		return false
	}
	for _, g := range pr.Grants {
		if RoleHas(g.Role, p) {
			return true
		}
	}
	return false
}

// CanIn reports whether the principal holds p in facility f.
func (pr *Principal) CanIn(p Permission, f int64) bool {
	all, ids := pr.Facilities(p)
	return all || slices.Contains(ids, f)
}

// Facilities returns where the principal holds p: all=true for every
// facility, else the list of facility ids. Queries use it as their scope.
func (pr *Principal) Facilities(p Permission) (all bool, ids []int64) {
	if pr == nil {
		return false, nil
	}
	if pr.TokenID != 0 {
		if !pr.Can(p) {
			return false, nil
		}
		if pr.TokenFacility == AllFacilities {
			return true, nil
		}
		return false, []int64{pr.TokenFacility}
	}
	for _, g := range pr.Grants {
		if !RoleHas(g.Role, p) {
			continue
		}
		if g.Facility == AllFacilities {
			return true, nil
		}
		if !slices.Contains(ids, g.Facility) {
			ids = append(ids, g.Facility)
		}
	}
	return false, ids
}

// HasRole reports whether the principal holds role r anywhere.
func (pr *Principal) HasRole(r Role) bool {
	if pr == nil {
		return false
	}
	for _, g := range pr.Grants {
		if g.Role == r {
			return true
		}
	}
	return false
}
