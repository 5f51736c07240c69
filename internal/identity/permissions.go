package identity

import "github.com/anzen-health/anzen/internal/platform/authz"

var everyone = []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor, authz.Staff, authz.Vendor}

// Permissions of the identity part.
var (
	// PermDashboard opens the dashboard.
	PermDashboard = authz.Define(authz.Spec{Name: "dashboard.view", Kind: authz.Read, Roles: everyone})
	// PermUsersRead lists users, their roles, factors and lock state.
	PermUsersRead = authz.Define(authz.Spec{Name: "users.read", Kind: authz.Read,
		Roles: []authz.Role{authz.Admin, authz.CISO, authz.Auditor}, Scopes: []string{"read"}})
	// PermUsersManage creates and changes users, grants roles, unlocks
	// accounts and resets passwords and factors.
	PermUsersManage = authz.Define(authz.Spec{Name: "users.manage", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin}})
	// PermTokensRead lists API tokens (never their secrets).
	PermTokensRead = authz.Define(authz.Spec{Name: "tokens.read", Kind: authz.Read,
		Roles: []authz.Role{authz.Admin, authz.CISO, authz.Auditor}})
	// PermTokensManage creates and revokes API tokens.
	PermTokensManage = authz.Define(authz.Spec{Name: "tokens.manage", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin}})
	// PermFacilitiesRead lists facilities.
	PermFacilitiesRead = authz.Define(authz.Spec{Name: "facilities.read", Kind: authz.Read,
		Roles: everyone, Scopes: []string{"read"}})
	// PermFacilitiesManage adds and renames facilities.
	PermFacilitiesManage = authz.Define(authz.Spec{Name: "facilities.manage", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin}})
)
