package incident

import "github.com/anzen-health/anzen/internal/platform/authz"

// Who may do what in the incident part. The CSIRT and the CISO run
// incidents; auditors read everything; every member of staff may read the
// contact diagram and the emergency rules (whom to call when the systems
// are down is not a secret to keep from them) and may report a suspected
// incident; the organisation and the BCP are kept by the CISO and the
// administrators.

// PermRead lets a caller read incidents, reports, playbooks, the BCP and
// drills of the facilities where it is held.
var PermRead = authz.Define(authz.Spec{
	Name:   "incident.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor},
	Scopes: []string{"read"},
})

// PermManage lets a caller open and run incidents: state, tasks,
// timeline, observables, evidence, links, reports and their submission.
var PermManage = authz.Define(authz.Spec{
	Name:   "incident.manage",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.CISO, authz.CSIRT},
	Scopes: []string{"incident"},
})

// PermRaise lets any member of staff report a suspected incident (a lost
// device, a strange mail, a screen asking for ransom); it opens a new
// incident for the CSIRT to triage and shows the reporter nothing else.
var PermRaise = authz.Define(authz.Spec{
	Name:   "incident.raise",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Staff},
	Scopes: []string{"incident"},
})

// PermContactsRead lets a caller read the emergency organisation, the
// contact diagram, the on-call schedule and the emergency rules.
var PermContactsRead = authz.Define(authz.Spec{
	Name:   "incident.contacts.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor, authz.Staff},
	Scopes: []string{"read"},
})

// PermOrgManage lets a caller keep the emergency organisation: the CISO
// and the security manager, the CSIRT's members, the on-call schedule,
// the external contacts, the emergency rules and the emergency accounts.
var PermOrgManage = authz.Define(authz.Spec{
	Name:   "incident.org.manage",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO},
	Scopes: []string{"manage"},
})

// PermPrepare lets a caller keep what prepares the hospital: playbooks,
// the BCP and its offline procedures, backup attestations and drills.
var PermPrepare = authz.Define(authz.Spec{
	Name:   "incident.prepare",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT},
	Scopes: []string{"incident"},
})
