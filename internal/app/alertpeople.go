package app

import (
	"context"
	"slices"
	"strings"

	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// alertPeople tells the detection part whom an alert may be assigned to:
// the users whose accounts are in use now and who hold the right to
// review alerts in the alert's facility (detect.People).
type alertPeople struct{ a *App }

var _ detect.People = alertPeople{}

// maxAlertPeople bounds the users of each role read for the choice;
// identity lists at most this many at a time.
const maxAlertPeople = 500

func (p alertPeople) AlertReviewers(ctx context.Context, facility int64) ([]detect.Person, error) {
	// By role, so that the choice is not cut by the users of other roles.
	var users []*identity.User
	for _, role := range authz.Roles {
		if !authz.RoleHas(role, detect.PermAlertsReview) {
			continue
		}
		some, _, err := p.a.Identity.ListUsers(ctx, identity.UserFilter{AllFacilities: true, Status: identity.Active,
			Role: role, Limit: maxAlertPeople})
		if err != nil {
			return nil, err
		}
		users = append(users, some...)
	}
	slices.SortFunc(users, func(x, y *identity.User) int { return strings.Compare(x.Login, y.Login) })
	users = slices.CompactFunc(users, func(x, y *identity.User) bool { return x.ID == y.ID })
	now := p.a.Clock.Now()
	var out []detect.Person
	for _, u := range users {
		pr := u.Principal()
		ok := pr.CanIn(detect.PermAlertsReview, facility)
		if facility == 0 {
			ok, _ = pr.Facilities(detect.PermAlertsReview)
		}
		if ok && u.Usable(now) {
			out = append(out, detect.Person{Login: u.Login, Name: u.Name})
		}
	}
	return out, nil
}
