package identity

import (
	"context"
	"errors"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// TestUpdateUser_NobodyChangesTheirOwnStatusOrAdminRole holds for every
// caller of the service (pages, API and CLI alike).
func TestUpdateUser_NobodyChangesTheirOwnStatusOrAdminRole(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		admin := e.user(t, "itadmin", "", authz.Admin)
		self := Actor{UserID: admin.ID, Login: admin.Login}
		change := func(mut func(*UserChange)) error {
			ch := UserChange{Name: admin.Name, NameKana: admin.NameKana, Profession: admin.Profession,
				Status: admin.Status, Facility: admin.Facility, Grants: admin.Grants}
			mut(&ch)
			_, err := e.svc.UpdateUser(ctx, self, admin.ID, ch)
			return err
		}
		var ve *ValidationError
		if err := change(func(c *UserChange) { c.Status = Retired }); !errors.As(err, &ve) || ve.Fields["status"] == "" {
			t.Fatalf("own status change: %v", err)
		}
		if err := change(func(c *UserChange) { c.Grants = []authz.Grant{{Role: authz.Staff, Facility: admin.Facility}} }); !errors.As(err, &ve) || ve.Fields["roles"] == "" {
			t.Fatalf("own admin role removed: %v", err)
		}
		if err := change(func(c *UserChange) { c.Department = "情報システム室" }); err != nil {
			t.Fatalf("own department: %v", err)
		}
		if got := e.reload(t, admin.ID); got.Status != Active || !got.Principal().HasRole(authz.Admin) {
			t.Fatalf("after refused changes: status %s, grants %v", got.Status, got.Grants)
		}
	})
}
