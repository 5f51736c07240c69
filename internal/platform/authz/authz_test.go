package authz_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/authz"
)

// Test permissions; the registry is process-wide, so their names are unique
// to this file.
var (
	permRead = authz.Define(authz.Spec{Name: "authztest.read", Kind: authz.Read,
		Roles: []authz.Role{authz.Admin, authz.CSIRT, authz.Auditor, authz.Staff}, Scopes: []string{"authztest:read"}})
	permWrite = authz.Define(authz.Spec{Name: "authztest.write", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin, authz.CSIRT}, Scopes: []string{"authztest:write"}})
	permAdmin = authz.Define(authz.Spec{Name: "authztest.admin", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin}})
)

var seq atomic.Int64

// unique returns a permission name no other test run has used.
func unique(base string) string { return fmt.Sprintf("authztest.%s.%d", base, seq.Add(1)) }

func panics(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

func TestDefine_PanicsOnProgrammingErrors(t *testing.T) {
	tests := []struct {
		name      string
		define    func(name string)
		wantPanic string // "" for none
	}{
		{"duplicate name", func(name string) {
			authz.Define(authz.Spec{Name: name, Kind: authz.Read, Roles: []authz.Role{authz.Staff}})
			authz.Define(authz.Spec{Name: name, Kind: authz.Read, Roles: []authz.Role{authz.Staff}})
		}, "defined twice"},
		{"write permission given to auditors", func(name string) {
			authz.Define(authz.Spec{Name: name, Kind: authz.Write, Roles: []authz.Role{authz.Admin, authz.Auditor}})
		}, "auditors change nothing"},
		{"read permission for auditors is fine", func(name string) {
			authz.Define(authz.Spec{Name: name, Kind: authz.Read, Roles: []authz.Role{authz.Auditor}})
		}, ""},
		{"write permission without auditors is fine", func(name string) {
			authz.Define(authz.Spec{Name: name, Kind: authz.Write, Roles: []authz.Role{authz.Admin}})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique("define")
			got := panics(func() { tt.define(name) })
			if tt.wantPanic == "" && got != "" {
				t.Fatalf("unexpected panic: %s", got)
			}
			if tt.wantPanic != "" && !strings.Contains(got, tt.wantPanic) {
				t.Fatalf("panic = %q, want one containing %q", got, tt.wantPanic)
			}
			if tt.wantPanic != "" && !strings.Contains(got, name) {
				t.Errorf("panic %q does not name the permission %s", got, name)
			}
		})
	}
}

func TestDefine_RefusedAuditorWriteIsNotRegistered(t *testing.T) {
	name := unique("refused")
	_ = panics(func() {
		authz.Define(authz.Spec{Name: name, Kind: authz.Write, Roles: []authz.Role{authz.Auditor}, Scopes: []string{name + ":scope"}})
	})
	if _, ok := authz.Lookup(authz.Permission(name)); ok {
		t.Error("a refused permission was registered")
	}
	if authz.ValidScope(name + ":scope") {
		t.Error("a refused permission's scope was registered")
	}
}

func TestRegistry_ListsDefinedPermissionsAndScopes(t *testing.T) {
	perms := authz.Permissions()
	if !slices.IsSorted(perms) {
		t.Errorf("Permissions() not sorted: %v", perms)
	}
	for _, p := range []authz.Permission{permRead, permWrite, permAdmin} {
		if !slices.Contains(perms, p) {
			t.Errorf("Permissions() lacks %s", p)
		}
	}
	scopes := authz.Scopes()
	if !slices.IsSorted(scopes) || !slices.Contains(scopes, "authztest:read") {
		t.Errorf("Scopes() = %v", scopes)
	}
	if !authz.ValidScope("authztest:write") || authz.ValidScope("authztest:nothing") {
		t.Error("ValidScope does not follow the declarations")
	}
	if s, ok := authz.Lookup(permWrite); !ok || s.Kind != authz.Write {
		t.Errorf("Lookup(%s) = %+v, %v", permWrite, s, ok)
	}
	if authz.RoleHas(authz.Auditor, permWrite) || !authz.RoleHas(authz.Auditor, permRead) {
		t.Error("RoleHas does not follow the declarations")
	}
	if authz.RoleHas(authz.Admin, "authztest.undeclared") {
		t.Error("RoleHas is true for an undeclared permission")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range authz.Roles {
		if got, err := authz.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", "root", " admin"} {
		if _, err := authz.ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}

func TestPrincipalFacilities_AllFacilitiesOrSpecificOnes(t *testing.T) {
	g := func(r authz.Role, f int64) authz.Grant { return authz.Grant{Role: r, Facility: f} }
	tests := []struct {
		name    string
		grants  []authz.Grant
		perm    authz.Permission
		wantAll bool
		wantIDs []int64
	}{
		{"grant in all facilities", []authz.Grant{g(authz.CSIRT, authz.AllFacilities)}, permWrite, true, nil},
		{"grants in specific facilities", []authz.Grant{g(authz.Staff, 3), g(authz.Staff, 5)}, permRead, false, []int64{3, 5}},
		{"same facility twice is listed once", []authz.Grant{g(authz.Staff, 3), g(authz.Auditor, 3)}, permRead, false, []int64{3}},
		{"all facilities wins over specific ones", []authz.Grant{g(authz.Staff, 3), g(authz.Auditor, authz.AllFacilities)}, permRead, true, nil},
		{"only grants whose role holds the permission count", []authz.Grant{g(authz.Staff, 3), g(authz.CSIRT, 7)}, permWrite, false, []int64{7}},
		{"role without the permission anywhere", []authz.Grant{g(authz.Staff, authz.AllFacilities)}, permWrite, false, nil},
		{"no grants", nil, permRead, false, nil},
		{"undeclared permission", []authz.Grant{g(authz.Admin, authz.AllFacilities)}, "authztest.undeclared", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := &authz.Principal{UserID: 1, Grants: tt.grants}
			all, ids := pr.Facilities(tt.perm)
			if all != tt.wantAll || !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("Facilities(%s) = %v, %v; want %v, %v", tt.perm, all, ids, tt.wantAll, tt.wantIDs)
			}
			if can := pr.Can(tt.perm); can != (tt.wantAll || len(tt.wantIDs) > 0) {
				t.Errorf("Can(%s) = %v, inconsistent with Facilities", tt.perm, can)
			}
			for _, f := range []int64{3, 5, 7, 99} {
				want := tt.wantAll || slices.Contains(tt.wantIDs, f)
				if got := pr.CanIn(tt.perm, f); got != want {
					t.Errorf("CanIn(%s, %d) = %v, want %v", tt.perm, f, got, want)
				}
			}
		})
	}
}

func TestPrincipal_TokensUseScopesOnly(t *testing.T) {
	// The token's owner is an administrator everywhere; the token itself
	// carries only the read scope, for facility 4.
	owner := []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}}
	tests := []struct {
		name     string
		pr       authz.Principal
		perm     authz.Permission
		wantCan  bool
		wantAll  bool
		wantIDs  []int64
		facility int64
		wantIn   bool
	}{
		{"scope carries the permission", authz.Principal{UserID: 1, Grants: owner, TokenID: 9,
			Scopes: []string{"authztest:read"}, TokenFacility: 4}, permRead, true, false, []int64{4}, 4, true},
		{"only in the token's facility", authz.Principal{UserID: 1, Grants: owner, TokenID: 9,
			Scopes: []string{"authztest:read"}, TokenFacility: 4}, permRead, true, false, []int64{4}, 5, false},
		{"owner's role does not reach through the token", authz.Principal{UserID: 1, Grants: owner, TokenID: 9,
			Scopes: []string{"authztest:read"}, TokenFacility: 4}, permWrite, false, false, nil, 4, false},
		{"permission without any scope", authz.Principal{UserID: 1, Grants: owner, TokenID: 9,
			Scopes: []string{"authztest:read", "authztest:write"}}, permAdmin, false, false, nil, 4, false},
		{"token for all facilities", authz.Principal{UserID: 1, TokenID: 9,
			Scopes: []string{"authztest:write"}, TokenFacility: authz.AllFacilities}, permWrite, true, true, nil, 42, true},
		{"token without scopes", authz.Principal{UserID: 1, Grants: owner, TokenID: 9}, permRead, false, false, nil, 4, false},
		{"unknown scope", authz.Principal{UserID: 1, TokenID: 9, Scopes: []string{"everything"}}, permRead, false, false, nil, 0, false},
		{"same grants without a token use roles", authz.Principal{UserID: 1, Grants: owner,
			Scopes: []string{"ignored"}}, permAdmin, true, true, nil, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.pr.Can(tt.perm); got != tt.wantCan {
				t.Errorf("Can(%s) = %v, want %v", tt.perm, got, tt.wantCan)
			}
			all, ids := tt.pr.Facilities(tt.perm)
			if all != tt.wantAll || !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("Facilities(%s) = %v, %v; want %v, %v", tt.perm, all, ids, tt.wantAll, tt.wantIDs)
			}
			if got := tt.pr.CanIn(tt.perm, tt.facility); got != tt.wantIn {
				t.Errorf("CanIn(%s, %d) = %v, want %v", tt.perm, tt.facility, got, tt.wantIn)
			}
		})
	}
}

func TestPrincipal_NilHoldsNothing(t *testing.T) {
	var pr *authz.Principal
	if pr.Can(permRead) || pr.CanIn(permRead, 1) || pr.HasRole(authz.Admin) {
		t.Error("a nil principal holds something")
	}
	if all, ids := pr.Facilities(permRead); all || ids != nil {
		t.Errorf("nil Facilities = %v, %v", all, ids)
	}
}

func TestPrincipal_HasRole(t *testing.T) {
	pr := &authz.Principal{Grants: []authz.Grant{{Role: authz.Staff, Facility: 2}}}
	if !pr.HasRole(authz.Staff) || pr.HasRole(authz.Admin) {
		t.Errorf("HasRole wrong for %+v", pr.Grants)
	}
}
