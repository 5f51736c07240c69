package incident

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
)

// The CSIRT's preparedness as live evidence for the compliance centre
// (guideline 6.10, and the organisational items of MHLW's checklist): the
// officers and the CSIRT named, the contact diagram complete and current,
// the BCP written and reviewed, a drill held this year, offline backups
// fresh and restores tried, emergency accounts registered and changed
// after use, and no report to the authorities overdue. Each check reads
// what this part already keeps; internal/app hands them to the compliance
// part.

// Ids of the incident part's checks.
const (
	CheckOrganisation   = "incident.organisation"
	CheckContactDiagram = "incident.contact_diagram"
	CheckBCP            = "incident.bcp"
	CheckDrills         = "incident.drills"
	CheckBackups        = "incident.backups"
	CheckEmergency      = "incident.emergency_accounts"
	CheckReportsOnTime  = "incident.reports_on_time"
)

// ReviewYear is how old the contact diagram, the BCP's review and the last
// drill may be: once a year (anzen policy, after the guideline's call for
// regular review and drills). ReviewSoon is when a check starts to warn
// that the year is nearly out.
const (
	ReviewYear = 365 * 24 * time.Hour
	ReviewSoon = 335 * 24 * time.Hour
)

// Links of the checks to the pages where what they found is fixed.
var (
	linkOrg       = check.Link{LabelID: "incident.check.link.org", Href: "/incident/org"}
	linkContacts  = check.Link{LabelID: "incident.check.link.contacts", Href: "/incident/contacts"}
	linkBCP       = check.Link{LabelID: "incident.check.link.bcp", Href: "/incident/bcp"}
	linkDrills    = check.Link{LabelID: "incident.check.link.drills", Href: "/incident/drills"}
	linkBackups   = check.Link{LabelID: "incident.check.link.backups", Href: "/incident/backups"}
	linkEmergency = check.Link{LabelID: "incident.check.link.emergency", Href: "/incident/emergency"}
	linkIncidents = check.Link{LabelID: "incident.check.link.incidents", Href: "/incidents"}
)

// Checks returns the incident part's checks for the compliance centre. It
// reads cfg.DB, cfg.Clock (the real clock when nil) and
// cfg.ReminderBefore (when a report is due soon), the same Config as
// Register. The organisation, contact diagram, BCP, drill, backup and
// emergency account checks are of one facility and not applicable to
// facility 0; the reports check looks at every facility for 0.
func Checks(cfg Config) []check.Check {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	c := &checks{cfg}
	gl := func(ref string) string { return "mhlw-gl-5.1:" + ref }
	r6 := func(ref string) string { return "mhlw-checklist-r6:" + ref }
	return []check.Check{
		{ID: CheckOrganisation, TitleID: "incident.check.organisation.title", Items: []string{gl("6.10-C-1"), r6("hospital-1-1")},
			Run: c.facility(c.organisation)},
		{ID: CheckContactDiagram, TitleID: "incident.check.contact_diagram.title", Items: []string{gl("6.10-C-5"), r6("hospital-3-1")},
			Run: c.facility(c.contactDiagram)},
		{ID: CheckBCP, TitleID: "incident.check.bcp.title", Items: []string{gl("6.10-C-1"), gl("6.10-C-3"), r6("hospital-3-3")},
			Run: c.facility(c.bcp)},
		{ID: CheckDrills, TitleID: "incident.check.drills.title", Items: []string{gl("6.10-C-2")}, Run: c.facility(c.drills)},
		{ID: CheckBackups, TitleID: "incident.check.backups.title", Items: []string{gl("6.10-C-6"), r6("hospital-3-2")},
			Run: c.facility(c.backups)},
		{ID: CheckEmergency, TitleID: "incident.check.emergency_accounts.title", Items: []string{gl("6.10-C-4")},
			Every: time.Hour, Run: c.facility(c.emergencyAccounts)},
		{ID: CheckReportsOnTime, TitleID: "incident.check.reports_on_time.title", Items: []string{gl("6.10-C-5")},
			Every: time.Hour, Run: c.reportsOnTime},
	}
}

type checks struct{ cfg Config }

// facility makes run not applicable to facility 0: what it checks is kept
// per facility.
func (c *checks) facility(run func(ctx context.Context, f int64, now time.Time) (check.Result, error)) func(context.Context, int64) (check.Result, error) {
	return func(ctx context.Context, f int64) (check.Result, error) {
		if f <= 0 {
			return check.NA("incident.check.per_facility"), nil
		}
		return run(ctx, f, c.cfg.Clock.Now())
	}
}

// organisation: the CISO and the security manager (医療情報システム安全管理
// 責任者) are named and the CSIRT has members (else: fail); someone holds
// the commander's role (else: warning).
func (c *checks) organisation(ctx context.Context, f int64, _ time.Time) (check.Result, error) {
	officers, err := Officers(ctx, c.cfg.DB, f)
	if err != nil {
		return check.Result{}, err
	}
	members, err := Members(ctx, c.cfg.DB, f)
	if err != nil {
		return check.Result{}, err
	}
	named := map[OfficerRole]string{}
	for _, o := range officers {
		if strings.TrimSpace(o.Name) != "" {
			named[o.Role] = o.Name
		}
	}
	commander := slices.ContainsFunc(members, func(m Member) bool { return m.Has(RoleCommander) })
	kv := []any{"ciso", named[CISO], "manager", named[SecurityManager], "members", len(members),
		"no_ciso", named[CISO] == "", "no_manager", named[SecurityManager] == ""}
	switch {
	case named[CISO] == "" || named[SecurityManager] == "":
		return check.Failed("incident.check.organisation.officers", kv...).WithLinks(linkOrg), nil
	case len(members) == 0:
		return check.Failed("incident.check.organisation.no_csirt", kv...).WithLinks(linkOrg), nil
	case !commander:
		return check.Warned("incident.check.organisation.no_commander", kv...).WithLinks(linkOrg), nil
	}
	return check.Passed("incident.check.organisation.ok", kv...).WithLinks(linkOrg), nil
}

// requiredContacts are the external contacts the diagram must have: the
// systems' vendor, MHLW and the police.
var requiredContacts = []ContactKind{ContactVendor, ContactMHLW, ContactPolice}

// contactDiagram: the vendor, MHLW and the police are among the external
// contacts and every contact has a phone (else: fail); the organisation
// was changed or confirmed within ReviewYear (older: fail; nearly:
// warning).
func (c *checks) contactDiagram(ctx context.Context, f int64, now time.Time) (check.Result, error) {
	o, err := LoadOrg(ctx, c.cfg.DB, Facility{ID: f}, now)
	if err != nil {
		return check.Result{}, err
	}
	kv := []any{"contacts", len(o.Contacts)}
	missing := 0
	for _, k := range requiredContacts {
		has := slices.ContainsFunc(o.Contacts, func(ct Contact) bool { return ct.Kind == k })
		if !has {
			missing++
		}
		kv = append(kv, "no_"+string(k), !has)
	}
	var updated time.Time
	for _, ct := range o.Contacts {
		updated = laterOf(updated, ct.Updated)
	}
	for _, m := range o.Members {
		updated = laterOf(updated, m.Updated)
	}
	for _, of := range o.Officers {
		updated = laterOf(updated, of.Updated)
	}
	kv = append(kv, "missing", missing, "no_phone", o.MissingPhones(), "date", checkDate(updated), "days", daysSince(now, updated))
	switch {
	case missing > 0:
		return check.Failed("incident.check.contact_diagram.missing", kv...).WithLinks(linkContacts), nil
	case o.MissingPhones() > 0:
		return check.Failed("incident.check.contact_diagram.no_phone", kv...).WithLinks(linkContacts), nil
	case now.Sub(updated) > ReviewYear:
		return check.Failed("incident.check.contact_diagram.stale", kv...).WithLinks(linkContacts), nil
	case now.Sub(updated) > ReviewSoon:
		return check.Warned("incident.check.contact_diagram.review_soon", kv...).WithLinks(linkContacts), nil
	}
	return check.Passed("incident.check.contact_diagram.ok", kv...).WithLinks(linkContacts), nil
}

// bcp: the facility has a BCP with every section written (else: fail),
// saved or approved within ReviewYear (older: fail; nearly: warning), and
// its current version approved (else: warning).
func (c *checks) bcp(ctx context.Context, f int64, now time.Time) (check.Result, error) {
	b, err := CurrentBCP(ctx, c.cfg.DB, f)
	if err != nil {
		return check.Result{}, err
	}
	if b.Version == 0 {
		return check.Failed("incident.check.bcp.none", "sections", len(BCPSections)).WithLinks(linkBCP), nil
	}
	reviewed := laterOf(b.Created, b.ApprovedAt)
	kv := []any{"version", b.Version, "sections", len(BCPSections), "missing", len(b.Missing()),
		"date", checkDate(reviewed), "days", daysSince(now, reviewed)}
	switch {
	case len(b.Missing()) > 0:
		return check.Failed("incident.check.bcp.incomplete", kv...).WithLinks(linkBCP), nil
	case now.Sub(reviewed) > ReviewYear:
		return check.Failed("incident.check.bcp.stale", kv...).WithLinks(linkBCP), nil
	case now.Sub(reviewed) > ReviewSoon:
		return check.Warned("incident.check.bcp.review_soon", kv...).WithLinks(linkBCP), nil
	case b.ApprovedAt.IsZero():
		return check.Warned("incident.check.bcp.unapproved", kv...).WithLinks(linkBCP), nil
	}
	return check.Passed("incident.check.bcp.ok", append(kv, "approver", b.ApprovedBy)...).WithLinks(linkBCP), nil
}

// drills: a drill was held within ReviewYear (none or older: fail; nearly
// a year ago: warning).
func (c *checks) drills(ctx context.Context, f int64, now time.Time) (check.Result, error) {
	list, err := Drills(ctx, c.cfg.DB, false, []int64{f})
	if err != nil {
		return check.Result{}, err
	}
	if len(list) == 0 {
		return check.Failed("incident.check.drills.none").WithLinks(linkDrills), nil
	}
	d := list[0] // newest first
	kv := []any{"title", d.Title, "date", checkDate(d.HeldAt), "days", daysSince(now, d.HeldAt), "drills", len(list)}
	switch {
	case now.Sub(d.HeldAt) > ReviewYear:
		return check.Failed("incident.check.drills.stale", kv...).WithLinks(linkDrills), nil
	case now.Sub(d.HeldAt) > ReviewSoon:
		return check.Warned("incident.check.drills.due_soon", kv...).WithLinks(linkDrills), nil
	}
	return check.Passed("incident.check.drills.ok", kv...).WithLinks(linkDrills), nil
}

// backups: every system with backup attestations has an offline or
// immutable copy of at most MaxOfflineAge and a restore tried within
// MaxRestoreTestAge, judged as the backup page judges them
// (BackupStatuses): a system without an offline copy or a tried restore,
// or whose last restore failed, fails; an old copy or test, or a partial
// restore, warns. No attestation at all: fail.
func (c *checks) backups(ctx context.Context, f int64, now time.Time) (check.Result, error) {
	list, err := Backups(ctx, c.cfg.DB, false, []int64{f})
	if err != nil {
		return check.Result{}, err
	}
	if len(list) == 0 {
		return check.Failed("incident.check.backups.none").WithLinks(linkBackups), nil
	}
	var bad, warn []string
	statuses := BackupStatuses(list, now)
	for _, s := range statuses {
		switch s.Level() {
		case LevelBad:
			bad = append(bad, s.System)
		case LevelWarn:
			warn = append(warn, s.System)
		}
	}
	kv := []any{"systems", len(statuses), "offline_days", int(MaxOfflineAge / (24 * time.Hour)),
		"restore_days", int(MaxRestoreTestAge / (24 * time.Hour))}
	switch {
	case len(bad) > 0:
		return check.Failed("incident.check.backups.bad", append(kv, "count", len(bad), "names", strings.Join(bad, ", "))...).
			WithLinks(linkBackups), nil
	case len(warn) > 0:
		return check.Warned("incident.check.backups.old", append(kv, "count", len(warn), "names", strings.Join(warn, ", "))...).
			WithLinks(linkBackups), nil
	}
	return check.Passed("incident.check.backups.ok", append(kv, "count", 0)...).WithLinks(linkBackups), nil
}

// emergencyAccounts: the facility has registered its emergency accounts
// (none: fail); none was used and left unchanged past ChangeGrace (else:
// fail, naming them); one used and still to be changed within the grace
// warns.
func (c *checks) emergencyAccounts(ctx context.Context, f int64, now time.Time) (check.Result, error) {
	list, err := Accounts(ctx, c.cfg.DB, Scope{Facilities: []int64{f}}, f)
	if err != nil {
		return check.Result{}, err
	}
	if len(list) == 0 {
		return check.Failed("incident.check.emergency_accounts.none").WithLinks(linkEmergency), nil
	}
	var overdue, used []string
	for _, a := range list {
		name := a.System + " / " + a.Account
		switch {
		case a.Overdue(now):
			overdue = append(overdue, name)
		case a.State == AccountUsed:
			used = append(used, name)
		}
	}
	kv := []any{"accounts", len(list), "grace_hours", int(ChangeGrace / time.Hour)}
	switch {
	case len(overdue) > 0:
		return check.Failed("incident.check.emergency_accounts.overdue",
			append(kv, "count", len(overdue), "names", strings.Join(overdue, ", "))...).WithLinks(linkEmergency), nil
	case len(used) > 0:
		return check.Warned("incident.check.emergency_accounts.used",
			append(kv, "count", len(used), "names", strings.Join(used, ", "))...).WithLinks(linkEmergency), nil
	}
	return check.Passed("incident.check.emergency_accounts.ok", append(kv, "count", 0)...).WithLinks(linkEmergency), nil
}

// reportsOnTime: no report an incident owes the authorities is past its
// due time unsubmitted (else: fail, naming the incident and recipient);
// one due within cfg.ReminderBefore warns.
func (c *checks) reportsOnTime(ctx context.Context, f int64) (check.Result, error) {
	now := c.cfg.Clock.Now()
	sc := Scope{All: true}
	if f > 0 {
		sc = Scope{Facilities: []int64{f}}
	}
	boards, err := boardsIn(ctx, c.cfg.DB, sc, now, c.cfg.ReminderBefore)
	if err != nil {
		return check.Result{}, err
	}
	var overdue, soon []string
	open := 0
	for _, b := range boards {
		for _, cl := range b.Clocks {
			name := fmt.Sprintf("%s → %s", b.Ref, cl.To)
			switch cl.Status {
			case DutyOverdue:
				overdue = append(overdue, name)
			case DutyDueSoon:
				soon = append(soon, name)
			}
			if cl.Open() {
				open++
			}
		}
	}
	kv := []any{"open", open}
	switch {
	case len(overdue) > 0:
		return check.Failed("incident.check.reports_on_time.overdue",
			append(kv, "count", len(overdue), "names", strings.Join(overdue, ", "))...).WithLinks(linkIncidents), nil
	case len(soon) > 0:
		return check.Warned("incident.check.reports_on_time.due_soon",
			append(kv, "count", len(soon), "names", strings.Join(soon, ", "))...).WithLinks(linkIncidents), nil
	}
	return check.Passed("incident.check.reports_on_time.ok", append(kv, "count", 0)...).WithLinks(linkIncidents), nil
}

// jst is Japan's time, in which details give dates (no summer time).
var jst = time.FixedZone("JST", 9*60*60)

// checkDate is t's date in Japan as a detail shows it; "" for zero.
func checkDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(jst).Format("2006-01-02")
}

// daysSince is how many whole days before now t was.
func daysSince(now, t time.Time) int { return int(now.Sub(t) / (24 * time.Hour)) }

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
