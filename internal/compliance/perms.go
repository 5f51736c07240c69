package compliance

import "github.com/anzen-health/anzen/internal/platform/authz"

// Who may do what in the compliance part. The CISO and the administrators
// keep the controls and their evidence; the CSIRT and auditors (on-site
// inspectors, 立入検査) read everything and download the reports; a piece
// of evidence is approved by a second person, never by who uploaded it.

// PermRead lets a caller read the catalog, the controls, the evidence, the
// checklist answers, the snapshots and the reports of its facilities.
var PermRead = authz.Define(authz.Spec{
	Name:   "compliance.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor},
	Scopes: []string{"read", "compliance"},
})

// PermAttest lets a caller answer the checklist, upload evidence, set a
// control's owner and state, and run the checks now.
var PermAttest = authz.Define(authz.Spec{
	Name:   "compliance.attest",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO},
	Scopes: []string{"compliance"},
})

// PermApprove lets a caller approve or reject evidence someone else
// uploaded, and take the fiscal year's snapshot.
var PermApprove = authz.Define(authz.Spec{
	Name:   "compliance.approve",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO},
	Scopes: []string{"compliance"},
})
