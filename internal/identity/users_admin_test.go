package identity_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// newUserForm is a valid creation form for login in facility f, as a
// browser sends it: the unused role rows still carry a facility.
func newUserForm(login string, f int64) url.Values {
	return url.Values{"login": {login}, "name": {"山田 花子"}, "name_kana": {"ヤマダ ハナコ"},
		"department": {"外科病棟"}, "profession": {"nurse"}, "facility": {fmt.Sprint(f)},
		"grant_role_0": {"staff"}, "grant_facility_0": {fmt.Sprint(f)},
		"grant_role_1": {""}, "grant_facility_1": {"all"}, "grant_role_2": {""}, "grant_facility_2": {fmt.Sprint(f)},
		"valid_from": {""}, "valid_until": {"2027-03-31"}}
}

var initialPassword = regexp.MustCompile(`id="initial-password">([^<]+)<`)

func TestUsersPage_CreateShowsTheInitialPasswordOnceAndForcesAChange(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			status, body := a.form(t, a.AdminClient, "/users", newUserForm("hanako", a.Facility))
			if status != http.StatusCreated {
				t.Fatalf("create: %d\n%s", status, body)
			}
			noRawIDs(t, body)
			m := initialPassword.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no initial password shown:\n%s", body)
			}
			m[1] = html.UnescapeString(m[1])
			contains(t, body, "安全な方法で本人に渡して")
			u, err := a.App.Identity.UserByLogin(context.Background(), "hanako")
			if err != nil {
				t.Fatal(err)
			}
			if u.Department != "外科病棟" || u.NameKana != "ヤマダ ハナコ" || len(u.Grants) != 1 ||
				u.Grants[0] != (authz.Grant{Role: authz.Staff, Facility: a.Facility}) {
				t.Errorf("stored user = %+v", u)
			}
			// The last day of validity is inclusive, in Asia/Tokyo.
			if want := time.Date(2027, 3, 31, 15, 0, 0, 0, time.UTC); !u.ValidUntil.Equal(want) {
				t.Errorf("valid until %v, want %v", u.ValidUntil, want)
			}
			if !u.MustChangePassword {
				t.Error("a new user need not change the initial password")
			}
			status, raw := a.api(t, a.Client(), "POST", "/api/v1/session",
				map[string]string{"login": "hanako", "password": m[1]}, nil)
			if status != http.StatusForbidden || decodeProblem(t, raw).Type != "urn:anzen:problem:password-change-required" {
				t.Errorf("sign-in with the initial password: %d %s", status, raw)
			}
			status, body = a.get(t, a.AdminClient, fmt.Sprintf("/users/%d", u.ID))
			if status != http.StatusOK || strings.Contains(body, m[1]) {
				t.Errorf("user page: %d; shows the initial password again: %v", status, strings.Contains(body, m[1]))
			}
			contains(t, body, "2027-03-31", "外科病棟")
			a.wantEvent(t, "user.create", "user:hanako", "chief")
		})
	}
}

func TestUsersPage_InvalidFormChangesNothingAndKeepsValues(t *testing.T) {
	tests := []struct {
		name    string
		change  func(v url.Values)
		status  int
		message string // translated error shown next to the field
	}{
		{"login too short", func(v url.Values) { v.Set("login", "x") }, 422, "ログイン ID は英数字と"},
		{"name too long", func(v url.Values) { v.Set("name", strings.Repeat("長", 101)) }, 422, "長すぎます"},
		{"kana too long", func(v url.Values) { v.Set("name_kana", strings.Repeat("カ", 1000)) }, 422, "長すぎます"},
		{"department control characters", func(v url.Values) { v.Set("department", "病棟\x07") }, 422, "制御文字"},
		{"unknown profession", func(v url.Values) { v.Set("profession", "surgeon") }, 422, "職種を選んで"},
		{"no role", func(v url.Values) { v.Del("grant_role_0"); v.Del("grant_facility_0") }, 422, "ロールを 1 つ以上"},
		{"role without facility", func(v url.Values) { v.Del("grant_facility_0") }, 422, "ロールと施設は組にして"},
		{"unknown role", func(v url.Values) { v.Set("grant_role_0", "root") }, 422, "不明なロール"},
		{"bad date", func(v url.Values) { v.Set("valid_until", "2027-02-30") }, 422, "YYYY-MM-DD"},
		{"end before start", func(v url.Values) { v.Set("valid_from", "2027-04-01") }, 422, "開始日より後"},
		{"duplicate login", func(v url.Values) { v.Set("login", "chief") }, 409, "すでに使われています"},
	}
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			before := a.countUsers(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					v := newUserForm("keiko", a.Facility)
					v.Set("department", "検査部")
					tt.change(v)
					status, body := a.form(t, a.AdminClient, "/users", v)
					if status != tt.status {
						t.Fatalf("status %d, want %d\n%s", status, tt.status, body)
					}
					contains(t, body, tt.message, `value="`+v.Get("login")+`"`)
					if tt.name != "department control characters" {
						contains(t, body, `value="`+v.Get("department")+`"`)
					}
					noRawIDs(t, body)
					if n := a.countUsers(t); n != before {
						t.Errorf("%d users, want %d", n, before)
					}
				})
			}
		})
	}
}

func TestUsersPage_ListFiltersAndBadges(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			ctx := context.Background()
			locked := a.CreateUser(t, "lockme", true)
			for range 5 {
				a.Do(t, a.Client(), "POST", "/api/v1/session",
					map[string]string{"login": "lockme", "password": "wrong-password"}).Body.Close()
			}
			_, _, err := a.App.Identity.CreateUser(ctx, identity.SystemActor, identity.NewUser{Facility: a.Facility,
				Login: "oldvendor", Name: "業者 太郎", Profession: "vendor",
				ValidUntil: a.Clock.Now().Add(-24 * time.Hour),
				Grants:     []authz.Grant{{Role: authz.Vendor, Facility: a.Facility}}})
			if err != nil {
				t.Fatal(err)
			}

			status, body := a.get(t, a.AdminClient, "/users?locked=1")
			if status != http.StatusOK {
				t.Fatalf("list: %d", status)
			}
			noRawIDs(t, body)
			contains(t, body, ">lockme<", "ロック中")
			if strings.Contains(body, ">oldvendor<") || strings.Contains(body, ">chief<") {
				t.Error("the locked-only list shows unlocked users")
			}

			_, body = a.get(t, a.AdminClient, "/users?q=%E6%A5%AD%E8%80%85") // 業者
			contains(t, body, ">oldvendor<", "有効期限切れ", "二要素未登録", "パスワード変更待ち")
			if strings.Contains(body, ">lockme<") {
				t.Error("search by name shows other users")
			}
			_, body = a.get(t, a.AdminClient, "/users?role=vendor&profession=vendor&status=active")
			contains(t, body, ">oldvendor<", "1 人")

			for _, q := range []string{"status=bogus", "role=root", "locked=maybe", "page=0", "page=x",
				"q=" + strings.Repeat("x", 101), "q=a%00b", "q=%ff"} {
				status, body := a.get(t, a.AdminClient, "/users?"+q)
				if status != http.StatusBadRequest || !strings.Contains(body, `class="error"`) {
					t.Errorf("/users?%s: %d, want 400 with an error", q, status)
				}
			}

			// The dashboard card counts the same facts.
			_, body = a.get(t, a.AdminClient, "/")
			card := regexp.MustCompile(`(?s)id="card-users".*?</section>`).FindString(body)
			for label, want := range map[string]string{"ロック中のアカウント": "1",
				"有効期限を過ぎたまま「有効」のアカウント": "1", "有効な委託事業者アカウント": "0"} {
				re := regexp.MustCompile(`>` + want + `</span>(</a>)?\s*<span class="stat-label">` + regexp.QuoteMeta(label))
				if !re.MatchString(card) {
					t.Errorf("card does not show %s = %s:\n%s", label, want, card)
				}
			}
			if !strings.Contains(card, `href="/users?locked=1"`) {
				t.Errorf("card does not link to the locked accounts:\n%s", card)
			}
			_ = locked
		})
	}
}

func TestUserPage_UnlockAfterLockout(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			u := a.CreateUser(t, "nurse7", true)
			var last int
			for range 6 {
				resp := a.Do(t, a.Client(), "POST", "/api/v1/session",
					map[string]string{"login": "nurse7", "password": "wrong-password"})
				last = resp.StatusCode
				resp.Body.Close()
			}
			if last != http.StatusLocked {
				t.Fatalf("after 6 wrong passwords: %d, want 423", last)
			}
			_, body := a.get(t, a.AdminClient, fmt.Sprintf("/users/%d", u.ID))
			contains(t, body, "ロック中", `id="unlock-form"`)
			status, _ := a.form(t, a.AdminClient, fmt.Sprintf("/users/%d/unlock", u.ID), url.Values{})
			if status != http.StatusSeeOther {
				t.Fatalf("unlock: %d", status)
			}
			a.Login(t, u) // fails the test unless sign-in works again
			a.wantEvent(t, "user.unlock", "user:nurse7", "chief")
		})
	}
}

var resetPassword = regexp.MustCompile(`id="reset-password-value">([^<]+)<`)

func TestUserPage_ResetPasswordWritesTheLedgerAndForcesAChange(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			ctx := context.Background()
			u := a.CreateUser(t, "nurse8", true)
			path := fmt.Sprintf("/users/%d/reset-password", u.ID)
			for _, bad := range []url.Values{
				{"method": {""}},
				{"method": {"telepathy"}},
				{"method": {"other"}, "note": {""}},
				{"method": {"in_person_known"}, "note": {strings.Repeat("メ", 501)}},
			} {
				status, body := a.form(t, a.AdminClient, path, bad)
				if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="method-error"`) &&
					!strings.Contains(body, `id="note-error"`) {
					t.Errorf("reset with %v: %d, want 422 with a field error", bad, status)
				}
			}
			if rs, _ := a.App.Identity.PasswordResets(ctx, u.ID); len(rs) != 0 {
				t.Fatalf("invalid resets wrote the ledger: %+v", rs)
			}

			status, body := a.form(t, a.AdminClient, path,
				url.Values{"method": {"callback_registered_phone"}, "note": {"内線 1234 に折り返し"}})
			m := resetPassword.FindStringSubmatch(body)
			if status != http.StatusOK || m == nil {
				t.Fatalf("reset: %d\n%s", status, body)
			}
			m[1] = html.UnescapeString(m[1])
			noRawIDs(t, body)
			contains(t, body, "登録済みの電話番号へ折り返し", "内線 1234 に折り返し")
			rs, err := a.App.Identity.PasswordResets(ctx, u.ID)
			if err != nil || len(rs) != 1 || rs[0].Method != "callback_registered_phone" || rs[0].ResetBy != "chief" {
				t.Fatalf("ledger = %+v, %v", rs, err)
			}
			nu, err := a.App.Identity.CheckPassword(ctx, "nurse8", m[1], "127.0.0.1")
			if err != nil {
				t.Fatalf("the new password does not work: %v", err)
			}
			if step, _ := a.App.Identity.NextStep(ctx, nu); step != identity.StepChangePassword {
				t.Errorf("next step %s, want %s", step, identity.StepChangePassword)
			}
			if e := a.wantEvent(t, "password.reset", "user:nurse8", "chief"); e.Detail["verified_by"] != "callback_registered_phone" {
				t.Errorf("audit detail %v", e.Detail)
			}
		})
	}
}

func TestUserPage_ResetFactorsMakesTheUserEnrolAgain(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			ctx := context.Background()
			u := a.CreateUser(t, "nurse9", true)
			path := fmt.Sprintf("/users/%d/reset-factors", u.ID)
			if status, body := a.form(t, a.AdminClient, path, url.Values{}); status != http.StatusUnprocessableEntity ||
				!strings.Contains(body, `id="confirm-error"`) {
				t.Fatalf("reset without confirmation: %d", status)
			}
			if f, _ := a.App.Identity.FactorsOf(ctx, u.ID); !f.TOTP {
				t.Fatal("an unconfirmed reset removed the factors")
			}
			if status, _ := a.form(t, a.AdminClient, path, url.Values{"confirm": {"yes"}}); status != http.StatusSeeOther {
				t.Fatalf("reset: %d", status)
			}
			if f, _ := a.App.Identity.FactorsOf(ctx, u.ID); f.TOTP || f.RecoveryCodes != 0 {
				t.Errorf("factors after reset: %+v", f)
			}
			nu, err := a.App.Identity.CheckPassword(ctx, "nurse9", u.Password, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			if step, _ := a.App.Identity.NextStep(ctx, nu); step != identity.StepEnrol {
				t.Errorf("next step %s, want %s", step, identity.StepEnrol)
			}
			a.wantEvent(t, "mfa.reset", "user:nurse9", "chief")
		})
	}
}

func TestUserPage_EditAndStatus(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			ctx := context.Background()
			u := a.createUser(t, "clerk1", a.Facility, authz.Grant{Role: authz.Staff, Facility: a.Facility})
			status, body := a.get(t, a.AdminClient, fmt.Sprintf("/users/%d/edit", u.ID))
			if status != http.StatusOK {
				t.Fatalf("edit page: %d", status)
			}
			noRawIDs(t, body)
			v := url.Values{"name": {"事務 一郎"}, "profession": {"clerk"}, "facility": {fmt.Sprint(a.Facility)},
				"grant_role_0": {"staff"}, "grant_facility_0": {fmt.Sprint(a.Facility)},
				"grant_role_1": {"auditor"}, "grant_facility_1": {fmt.Sprint(a.East)}}
			bad := url.Values{}
			for k, vs := range v {
				bad[k] = vs
			}
			bad.Set("name", "")
			status, body = a.form(t, a.AdminClient, fmt.Sprintf("/users/%d/edit", u.ID), bad)
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, "入力してください") {
				t.Errorf("empty name: %d", status)
			}
			if status, _ = a.form(t, a.AdminClient, fmt.Sprintf("/users/%d/edit", u.ID), v); status != http.StatusSeeOther {
				t.Fatalf("edit: %d", status)
			}
			got, _ := a.App.Identity.UserByID(ctx, u.ID)
			if got.Name != "事務 一郎" || got.Profession != "clerk" || len(got.Grants) != 2 {
				t.Errorf("after edit: %+v", got)
			}
			a.wantEvent(t, "role.change", "user:clerk1", "chief")
			a.wantEvent(t, "user.update", "user:clerk1", "chief")

			path := fmt.Sprintf("/users/%d/status", u.ID)
			if status, _ := a.form(t, a.AdminClient, path, url.Values{"status": {"gone"}}); status != http.StatusUnprocessableEntity {
				t.Errorf("unknown status: %d", status)
			}
			if status, _ := a.form(t, a.AdminClient, path, url.Values{"status": {"retired"}}); status != http.StatusSeeOther {
				t.Fatalf("retire: %d", status)
			}
			if got, _ := a.App.Identity.UserByID(ctx, u.ID); got.Status != identity.Retired {
				t.Errorf("status %s", got.Status)
			}
			a.wantEvent(t, "user.status", "user:clerk1", "chief")
			own := fmt.Sprintf("/users/%d/status", a.Admin.ID)
			if status, _ := a.form(t, a.AdminClient, own, url.Values{"status": {"on_leave"}}); status != http.StatusUnprocessableEntity {
				t.Errorf("changing one's own status: %d, want 422", status)
			}
		})
	}
}
