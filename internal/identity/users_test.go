package identity

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// coreParts are the schemas the identity service needs: its own and the
// audit log it records to.
var coreParts = []db.Migrations{audit.Migrations(), Migrations()}

// coreStart is when the frozen clock of every core test starts.
var coreStart = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// corePassword meets every profile anzen ships for a user with a second
// factor, and the mhlw profile without one (10 characters, 4 classes).
const corePassword = "Kx7#mPq2wZ"

// coreEnv is an identity service on a real database with a real audit log
// and a frozen clock.
type coreEnv struct {
	svc      *Service
	db       *db.DB
	clock    *clock.Frozen
	log      *audit.Log
	facility int64
}

// coreSettings are anzen's defaults, with a password history of 3.
func coreSettings() Settings {
	return Settings{
		Policy:          PasswordPolicy{Profile: "mhlw", History: 3},
		LockoutFailures: 5,
		LockoutDuration: 15 * time.Minute,
		SessionIdle:     15 * time.Minute,
		SessionLifetime: 12 * time.Hour,
		MFARoles:        authz.Roles,
	}
}

// newCoreEnv builds the service on d with coreSettings changed by adjust
// (nil for none) and one facility. rec, when not nil, wraps the audit log.
func newCoreEnv(t testing.TB, d *db.DB, adjust func(*Settings), rec func(selfaudit.Recorder) selfaudit.Recorder) *coreEnv {
	t.Helper()
	// Tests sign in with the test-only argon2id cost (the hash itself is
	// tested in password_test.go); benchmarks measure anzen's own cost.
	_, bench := t.(*testing.B)
	if !bench {
		UseCheapPasswordHashesInTests()
	}
	c := clock.NewFrozen(coreStart)
	l := audit.New(d, c)
	set := coreSettings()
	if adjust != nil {
		adjust(&set)
	}
	var r selfaudit.Recorder = l
	if rec != nil {
		r = rec(l)
	}
	svc, err := New(d, c, r, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bench {
		svc.hash = newProductionHasher()
	}
	f, err := svc.CreateFacility(context.Background(), SystemActor,
		Facility{Code: "H1", NameJA: "安全中央病院", NameEN: "Anzen Central Hospital"})
	if err != nil {
		t.Fatal(err)
	}
	return &coreEnv{svc: svc, db: d, clock: c, log: l, facility: f.ID}
}

// user creates an active user with the given password (corePassword when
// empty) and roles (staff when none) in the env's facility.
func (e *coreEnv) user(t testing.TB, login, password string, roles ...authz.Role) *User {
	t.Helper()
	if password == "" {
		password = corePassword
	}
	if len(roles) == 0 {
		roles = []authz.Role{authz.Staff}
	}
	var grants []authz.Grant
	for _, r := range roles {
		grants = append(grants, authz.Grant{Role: r, Facility: e.facility})
	}
	u, _, err := e.svc.CreateUser(context.Background(), SystemActor, NewUser{Facility: e.facility, Login: login,
		Name: "山田 花子", NameKana: "やまだ はなこ", Profession: "nurse", Grants: grants, Password: password})
	if err != nil {
		t.Fatalf("create user %s: %v", login, err)
	}
	return u
}

// reload reads the user again.
func (e *coreEnv) reload(t testing.TB, id int64) *User {
	t.Helper()
	u, err := e.svc.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// events returns the recorded events of one action, newest first.
func (e *coreEnv) events(t testing.TB, action string) []audit.Entry {
	t.Helper()
	got, _, err := e.log.Search(context.Background(), audit.Filter{AllFacilities: true, Action: action,
		Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// countReasons counts events by their "reason" detail.
func countReasons(es []audit.Entry) map[string]int {
	out := map[string]int{}
	for _, e := range es {
		out[e.Detail["reason"]]++
	}
	return out
}

// fieldErr returns the message id err gives for field, or "" when err is
// not a ValidationError naming it.
func fieldErr(err error, field string) string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return ""
	}
	return ve.Fields[field]
}

// failingRecorder records through the real log in the caller's
// transaction and then fails for one action, as a later step of a change
// would; the change must then leave neither its rows nor its record.
type failingRecorder struct {
	inner  selfaudit.Recorder
	action string
}

var errRecorderFailed = errors.New("recorder failed on purpose")

func (f *failingRecorder) Record(ctx context.Context, q db.Querier, e selfaudit.Event) error {
	if err := f.inner.Record(ctx, q, e); err != nil {
		return err
	}
	if e.Action == f.action {
		return errRecorderFailed
	}
	return nil
}

func TestCreateUser_RefusesBadInputAndStoresNothing(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		valid := func() NewUser {
			return NewUser{Facility: e.facility, Login: "nurse01", Name: "山田 花子", NameKana: "やまだ はなこ",
				Profession: "nurse", Grants: []authz.Grant{{Role: authz.Staff, Facility: e.facility}}}
		}
		cases := []struct {
			name   string
			change func(*NewUser)
			field  string
			msgID  string
		}{
			{"overlong name", func(n *NewUser) { n.Name = strings.Repeat("山", 101) }, "name", "validation.too_long"},
			{"empty name", func(n *NewUser) { n.Name = "  " }, "name", "validation.required"},
			{"control characters in name", func(n *NewUser) { n.Name = "山田\x07花子" }, "name", "validation.control_chars"},
			{"invalid UTF-8 in kana", func(n *NewUser) { n.NameKana = "\xff\xfe" }, "name_kana", "validation.utf8"},
			{"overlong department", func(n *NewUser) { n.Department = strings.Repeat("a", 101) }, "department", "validation.too_long"},
			{"login with a space", func(n *NewUser) { n.Login = "nurse 01" }, "login", "validation.login"},
			{"login of one character", func(n *NewUser) { n.Login = "n" }, "login", "validation.login"},
			{"login starting with a dot", func(n *NewUser) { n.Login = ".nurse" }, "login", "validation.login"},
			{"login in kana", func(n *NewUser) { n.Login = "なーす" }, "login", "validation.login"},
			{"login with SQL", func(n *NewUser) { n.Login = "x';DROP TABLE identity_users;--" }, "login", "validation.login"},
			{"overlong login", func(n *NewUser) { n.Login = strings.Repeat("a", 65) }, "login", "validation.login"},
			{"unknown profession", func(n *NewUser) { n.Profession = "surgeon" }, "profession", "validation.profession"},
			{"no role", func(n *NewUser) { n.Grants = nil }, "roles", "validation.role_required"},
			{"unknown role", func(n *NewUser) { n.Grants = []authz.Grant{{Role: "root", Facility: e.facility}} }, "roles", "validation.role"},
			{"role in an unknown facility", func(n *NewUser) { n.Grants = []authz.Grant{{Role: authz.Staff, Facility: 999}} }, "roles", "validation.facility"},
			{"unknown facility", func(n *NewUser) { n.Facility = 999 }, "facility", "validation.facility"},
			{"no facility", func(n *NewUser) { n.Facility = 0 }, "facility", "validation.facility"},
			{"validity ending before it starts", func(n *NewUser) {
				n.ValidFrom, n.ValidUntil = coreStart.Add(time.Hour), coreStart
			}, "valid_until", "validation.valid_until"},
			{"weak password", func(n *NewUser) { n.Password = "password" }, "password", "password.rule.classes"},
			{"password containing the login", func(n *NewUser) { n.Password = "Nurse01#x" }, "password", "password.rule.login"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				nu := valid()
				c.change(&nu)
				_, _, err := e.svc.CreateUser(ctx, SystemActor, nu)
				if got := fieldErr(err, c.field); got != c.msgID {
					t.Fatalf("error = %v; field %s = %q, want %q", err, c.field, got, c.msgID)
				}
			})
		}
		if n, err := e.svc.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("users stored after refused input: %d (%v)", n, err)
		}
		if got := e.events(t, "user.create"); len(got) != 0 {
			t.Fatalf("user.create recorded for refused input: %+v", got)
		}
	})
}

func TestCreateUser_DuplicateLoginStoresNothing(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		first := e.user(t, "nurse01", "")
		_, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: e.facility, Login: " nurse01 ",
			Name: "別人", Profession: "doctor", Grants: []authz.Grant{{Role: authz.Admin, Facility: e.facility}}})
		if !errors.Is(err, ErrDuplicateLogin) {
			t.Fatalf("second nurse01: err = %v, want ErrDuplicateLogin", err)
		}
		if n, _ := e.svc.CountUsers(ctx); n != 1 {
			t.Fatalf("users = %d, want 1", n)
		}
		if got := e.events(t, "user.create"); len(got) != 1 {
			t.Fatalf("user.create events = %d, want 1", len(got))
		}
		u := e.reload(t, first.ID)
		if u.Name != "山田 花子" || u.Profession != "nurse" || len(u.Grants) != 1 || u.Grants[0].Role != authz.Staff {
			t.Fatalf("first user changed by the refused duplicate: %+v", u)
		}
	})
}

func TestCreateUser_StoresUserWithOneTimePassword(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u, initial, err := e.svc.CreateUser(ctx, Actor{Login: "admin", Client: "192.0.2.1"}, NewUser{
			Facility: e.facility, Login: "dr.sato", Name: "佐藤 一郎", Profession: "doctor",
			Grants: []authz.Grant{{Role: authz.Staff, Facility: e.facility}, {Role: authz.Staff, Facility: e.facility}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(initial) != 20 {
			t.Fatalf("generated password has %d characters, want 20", len(initial))
		}
		got := e.reload(t, u.ID)
		if !got.MustChangePassword || got.Status != Active || len(got.Grants) != 1 || !got.CreatedAt.Equal(coreStart) {
			t.Fatalf("stored user = %+v", got)
		}
		if _, err := e.svc.CheckPassword(ctx, "dr.sato", initial, "192.0.2.1"); err != nil {
			t.Fatalf("initial password refused: %v", err)
		}
		ev := e.events(t, "user.create")
		if len(ev) != 1 || ev[0].ActorLogin != "admin" || ev[0].Target != "user:dr.sato" ||
			ev[0].Detail["roles"] != "staff@"+itoa(e.facility) || ev[0].ClientAddr != "192.0.2.1" {
			t.Fatalf("user.create events = %+v", ev)
		}
		for _, e := range ev {
			for k, v := range e.Detail {
				if strings.Contains(v, initial) {
					t.Fatalf("the initial password is in the audit detail %s", k)
				}
			}
		}
	})
}

func TestUpdateUser_RefusesBadInputAndChangesNothing(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		admin := e.user(t, "admin01", "", authz.Admin)
		u := e.user(t, "nurse01", "")
		valid := func() UserChange {
			return UserChange{Name: u.Name, NameKana: u.NameKana, Profession: u.Profession, Status: Active,
				Facility: e.facility, Grants: u.Grants}
		}
		cases := []struct {
			name   string
			id     int64
			change func(*UserChange)
			field  string
			msgID  string
		}{
			{"overlong name", u.ID, func(c *UserChange) { c.Name = strings.Repeat("名", 101) }, "name", "validation.too_long"},
			{"control characters", u.ID, func(c *UserChange) { c.Department = "病棟\n3F" }, "department", "validation.control_chars"},
			{"invalid UTF-8", u.ID, func(c *UserChange) { c.Name = "a\xc3" }, "name", "validation.utf8"},
			{"unknown profession", u.ID, func(c *UserChange) { c.Profession = "" }, "profession", "validation.profession"},
			{"unknown status", u.ID, func(c *UserChange) { c.Status = "deleted" }, "status", "validation.status"},
			{"no role", u.ID, func(c *UserChange) { c.Grants = nil }, "roles", "validation.role_required"},
			{"unknown facility", u.ID, func(c *UserChange) { c.Facility = 42 }, "facility", "validation.facility"},
			{"admin removing their own admin role", admin.ID, func(c *UserChange) {
				c.Grants = []authz.Grant{{Role: authz.Staff, Facility: e.facility}}
			}, "roles", "validation.own_admin"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ch := valid()
				c.change(&ch)
				_, err := e.svc.UpdateUser(ctx, Actor{UserID: admin.ID, Login: admin.Login}, c.id, ch)
				if got := fieldErr(err, c.field); got != c.msgID {
					t.Fatalf("error = %v; field %s = %q, want %q", err, c.field, got, c.msgID)
				}
			})
		}
		got := e.reload(t, u.ID)
		if got.Name != u.Name || got.Department != "" || got.Status != Active || len(got.Grants) != 1 {
			t.Fatalf("user changed by refused updates: %+v", got)
		}
		if n := len(e.events(t, "user.update")); n != 0 {
			t.Fatalf("user.update recorded %d times for refused updates", n)
		}
	})
}

func TestCreateUser_RolledBackChangeLeavesNoAuditRecord(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		var fr *failingRecorder
		e := newCoreEnv(t, d, nil, func(r selfaudit.Recorder) selfaudit.Recorder {
			fr = &failingRecorder{inner: r}
			return fr
		})
		ctx := context.Background()
		fr.action = "user.create"
		_, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: e.facility, Login: "nurse01",
			Name: "山田 花子", Profession: "nurse", Grants: []authz.Grant{{Role: authz.Staff, Facility: e.facility}}})
		if !errors.Is(err, errRecorderFailed) {
			t.Fatalf("err = %v, want the recorder's failure", err)
		}
		if n, _ := e.svc.CountUsers(ctx); n != 0 {
			t.Fatalf("user stored although its record failed")
		}
		if got := e.events(t, "user.create"); len(got) != 0 {
			t.Fatalf("user.create kept for a rolled-back change: %+v", got)
		}
	})
}

func TestUpdateUser_RolledBackChangeLeavesNoAuditRecord(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		var fr *failingRecorder
		e := newCoreEnv(t, d, nil, func(r selfaudit.Recorder) selfaudit.Recorder {
			fr = &failingRecorder{inner: r}
			return fr
		})
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		secret, err := e.svc.StartSession(ctx, d, u, web.StageFull, "192.0.2.1", "test")
		if err != nil {
			t.Fatal(err)
		}
		// role.change and user.status are recorded first in the same
		// transaction; the failure of the last record must undo them all.
		fr.action = "user.update"
		_, err = e.svc.UpdateUser(ctx, SystemActor, u.ID, UserChange{Name: "山田 花子", Profession: "nurse",
			Status: OnLeave, Facility: e.facility, Grants: []authz.Grant{{Role: authz.CISO, Facility: e.facility}}})
		if !errors.Is(err, errRecorderFailed) {
			t.Fatalf("err = %v, want the recorder's failure", err)
		}
		got := e.reload(t, u.ID)
		if got.Status != Active || len(got.Grants) != 1 || got.Grants[0].Role != authz.Staff {
			t.Fatalf("user changed although the change was rolled back: %+v", got)
		}
		for _, action := range []string{"role.change", "user.status", "user.update"} {
			if ev := e.events(t, action); len(ev) != 0 {
				t.Fatalf("%s kept for a rolled-back change: %+v", action, ev)
			}
		}
		if p, _, err := e.svc.SessionPrincipal(ctx, hashSecret(secret), ""); err != nil || p == nil {
			t.Fatalf("session ended by a rolled-back change: %v", err)
		}
	})
}

func TestUpdateUser_RoleChangeIsRecordedAndEndsSessions(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		secret, err := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.UpdateUser(ctx, SystemActor, u.ID, UserChange{Name: " 山田 花子 ", Profession: "nurse",
			Status: Active, Facility: e.facility, Department: "3階東病棟",
			Grants: []authz.Grant{{Role: authz.CSIRT, Facility: authz.AllFacilities}}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "山田 花子" || got.Department != "3階東病棟" || len(got.Grants) != 1 || got.Grants[0].Role != authz.CSIRT {
			t.Fatalf("updated user = %+v", got)
		}
		ev := e.events(t, "role.change")
		if len(ev) != 1 || ev[0].Detail["roles_before"] != "staff@"+itoa(e.facility) || ev[0].Detail["roles_after"] != "csirt@all" {
			t.Fatalf("role.change events = %+v", ev)
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(secret), ""); p != nil {
			t.Fatalf("session still valid after a role change")
		}
		// A change of profile only keeps the session.
		secret, _ = e.svc.StartSession(ctx, d, got, web.StageFull, "", "")
		if _, err := e.svc.UpdateUser(ctx, SystemActor, u.ID, UserChange{Name: "山田 花子", Profession: "nurse",
			Status: Active, Facility: e.facility, Department: "4階西病棟", Grants: got.Grants}); err != nil {
			t.Fatal(err)
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(secret), ""); p == nil {
			t.Fatalf("session ended by a change of department")
		}
		if n := len(e.events(t, "role.change")); n != 1 {
			t.Fatalf("role.change recorded %d times, want 1", n)
		}
	})
}

func TestResetPassword_RecordsVerificationAndForcesChange(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		admin := Actor{UserID: 99, Login: "admin01", Client: "192.0.2.9"}
		for _, bad := range []struct{ method, note, field string }{
			{"", "", "method"},
			{"telepathy", "", "method"},
			{"other", "", "note"},
			{"other", "bad\x00note", "note"},
		} {
			if _, err := e.svc.ResetPassword(ctx, admin, "nurse01", bad.method, bad.note); fieldErr(err, bad.field) == "" {
				t.Fatalf("method %q note %q: err = %v, want an error on %s", bad.method, bad.note, err, bad.field)
			}
		}
		if _, err := e.svc.ResetPassword(ctx, admin, "nobody", "in_person_id_card", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown login: err = %v", err)
		}
		secret, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		for range 5 {
			_, _ = e.svc.CheckPassword(ctx, "nurse01", "wrong", "")
		}
		temp, err := e.svc.ResetPassword(ctx, admin, "nurse01", "callback_registered_phone", "内線 1234 で確認")
		if err != nil {
			t.Fatal(err)
		}
		got := e.reload(t, u.ID)
		if !got.MustChangePassword || got.FailedCount != 0 || got.Locked(e.clock.Now()) {
			t.Fatalf("after reset: %+v", got)
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(secret), ""); p != nil {
			t.Fatal("session survived a password reset")
		}
		if _, err := e.svc.CheckPassword(ctx, "nurse01", temp, ""); err != nil {
			t.Fatalf("reset password refused: %v", err)
		}
		if _, err := e.svc.CheckPassword(ctx, "nurse01", corePassword, ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("old password after reset: err = %v", err)
		}
		ledger, err := e.svc.PasswordResets(ctx, u.ID)
		if err != nil || len(ledger) != 1 || ledger[0].Method != "callback_registered_phone" ||
			ledger[0].Note != "内線 1234 で確認" || ledger[0].ResetBy != "admin01" || !ledger[0].At.Equal(coreStart) {
			t.Fatalf("reset ledger = %+v (%v)", ledger, err)
		}
		ev := e.events(t, "password.reset")
		if len(ev) != 1 || ev[0].Detail["verified_by"] != "callback_registered_phone" || ev[0].ActorLogin != "admin01" {
			t.Fatalf("password.reset events = %+v", ev)
		}
	})
}

func TestUnlock_ClearsLockAndIsRecorded(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		for range 5 {
			_, _ = e.svc.CheckPassword(ctx, "nurse01", "wrong", "")
		}
		locked, _, err := e.svc.ListUsers(ctx, UserFilter{AllFacilities: true, LockedOnly: true})
		if err != nil || len(locked) != 1 || locked[0].ID != u.ID {
			t.Fatalf("locked users = %+v (%v)", locked, err)
		}
		if err := e.svc.Unlock(ctx, Actor{Login: "admin01"}, "nurse01"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CheckPassword(ctx, "nurse01", corePassword, ""); err != nil {
			t.Fatalf("right password after unlock: %v", err)
		}
		if ev := e.events(t, "user.unlock"); len(ev) != 1 || ev[0].Target != "user:nurse01" {
			t.Fatalf("user.unlock events = %+v", ev)
		}
		if err := e.svc.Unlock(ctx, Actor{Login: "admin01"}, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unlock unknown login: %v", err)
		}
	})
}

func TestListUsers_FiltersAndScopesByFacility(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		other, err := e.svc.CreateFacility(ctx, SystemActor, Facility{Code: "H2", NameJA: "安全北病院", NameEN: "Anzen North"})
		if err != nil {
			t.Fatal(err)
		}
		e.user(t, "nurse01", "")
		e.user(t, "ciso01", "", authz.CISO)
		if _, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: other.ID, Login: "nurse_h2",
			Name: "北 100%花子", Profession: "nurse", Grants: []authz.Grant{{Role: authz.Staff, Facility: other.ID}},
			Password: corePassword}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			f    UserFilter
			want []string
		}{
			{"every facility", UserFilter{AllFacilities: true}, []string{"ciso01", "nurse01", "nurse_h2"}},
			{"one facility", UserFilter{Facilities: []int64{other.ID}}, []string{"nurse_h2"}},
			{"no scope", UserFilter{}, nil},
			{"by role", UserFilter{AllFacilities: true, Role: authz.CISO}, []string{"ciso01"}},
			{"query with a literal percent", UserFilter{AllFacilities: true, Query: "%"}, []string{"nurse_h2"}},
			{"query with a literal underscore", UserFilter{AllFacilities: true, Query: "e_"}, []string{"nurse_h2"}},
			{"query by kana", UserFilter{AllFacilities: true, Query: "やまだ"}, []string{"ciso01", "nurse01"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, total, err := e.svc.ListUsers(ctx, c.f)
				if err != nil {
					t.Fatal(err)
				}
				var logins []string
				for _, u := range got {
					logins = append(logins, u.Login)
				}
				if strings.Join(logins, ",") != strings.Join(c.want, ",") || total != len(c.want) {
					t.Fatalf("logins = %q (total %d), want %q", logins, total, c.want)
				}
			})
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
