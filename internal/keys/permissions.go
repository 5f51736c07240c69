package keys

import "github.com/anzen-health/anzen/internal/platform/authz"

// Permissions of the key service. Using a key needs PermUse at the route
// and, for the key itself, a grant to the caller's role or token (Grant).
var (
	// PermRead lists keys, versions, certificates and usage (never material).
	PermRead = authz.Define(authz.Spec{Name: "keys.read", Kind: authz.Read,
		Roles: []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor}, Scopes: []string{"read", "keys"}})
	// PermManage creates, rotates, disables keys, sets grants, imports
	// certificates, requests destruction and makes backups.
	PermManage = authz.Define(authz.Spec{Name: "keys.manage", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin}})
	// PermApprove approves another administrator's request to destroy a key
	// version (crypto-shredding needs two people).
	PermApprove = authz.Define(authz.Spec{Name: "keys.approve", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin, authz.CISO}})
	// PermUse calls encrypt, decrypt, rewrap, datakey, sign, verify and
	// HMAC; the key's grants then decide.
	PermUse = authz.Define(authz.Spec{Name: "keys.use", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Staff}, Scopes: []string{"keys"}})
)
