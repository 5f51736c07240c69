package keys

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The grants of the detail page: who may use the key for which operation,
// and the form that changes them. A role is a row of checkboxes, one per
// operation the key's algorithm supports; an API token is a row with the
// token's number and the same checkboxes. The form needs no script: blank
// token rows stand ready, and a row without a number is dropped.

// pageTokenRows is the most token rows the form has and reads.
const pageTokenRows = 20

// blankTokenRows is how many empty token rows the form offers.
const blankTokenRows = 2

// grantLine is one stored grant as the page lists it.
type grantLine struct {
	Subject    string
	Operations []string
}

// grantCheck is one operation's checkbox of a grant row.
type grantCheck struct {
	Op      string
	Label   string // for screen readers: "Role: Staff: Encrypt"
	Checked bool
}

// grantRow is one role or token of the grants form.
type grantRow struct {
	N      int
	Value  string // the role, or the token number as typed
	Label  string // the role's name; empty for tokens
	Checks []grantCheck
}

// grantsView is the grants part of templates/key.html.
type grantsView struct {
	Lines      []grantLine
	Operations []pageOption // the key's operations, the columns of the form
	Roles      []grantRow
	Tokens     []grantRow
}

// grantsView lists the stored grants and fills the form with form (the
// stored grants, or what was posted).
func (h *handlers) grantsView(r *http.Request, k *Key, stored, form []Grant) grantsView {
	var v grantsView
	ops := OperationsFor(k.Algorithm)
	for _, op := range ops {
		v.Operations = append(v.Operations, pageOption{Value: string(op), Label: h.srv.T(r, msgID("keys.op.", string(op)), nil)})
	}
	for _, g := range stored {
		line := grantLine{Subject: h.grantSubject(r, g)}
		for _, op := range sortedOps(g.Operations) {
			line.Operations = append(line.Operations, h.srv.T(r, msgID("keys.op.", string(op)), nil))
		}
		v.Lines = append(v.Lines, line)
	}
	checks := func(subject string, g *Grant) []grantCheck {
		out := make([]grantCheck, len(ops))
		for i, op := range ops {
			out[i] = grantCheck{Op: string(op), Checked: g != nil && slices.Contains(g.Operations, op),
				Label: h.srv.T(r, "keys.grants.op_for", map[string]any{"Subject": subject, "Op": v.Operations[i].Label})}
		}
		return out
	}
	find := func(kind, subject string) *Grant {
		for i := range form {
			if form[i].Kind == kind && form[i].Subject == subject {
				return &form[i]
			}
		}
		return nil
	}
	// Roles that may call the operations' routes at all, and any other
	// role that holds a grant (given through the API).
	for _, role := range authz.Roles {
		g := find("role", string(role))
		if g == nil && !authz.RoleHas(role, PermUse) {
			continue
		}
		label := h.srv.T(r, "role."+string(role), nil)
		v.Roles = append(v.Roles, grantRow{N: len(v.Roles), Value: string(role), Label: label,
			Checks: checks(h.srv.T(r, "keys.grants.role", map[string]any{"Role": label}), g)})
	}
	for i := range form {
		if form[i].Kind == "token" && len(v.Tokens) < pageTokenRows {
			n := len(v.Tokens)
			v.Tokens = append(v.Tokens, grantRow{N: n, Value: form[i].Subject,
				Checks: checks(h.srv.T(r, "keys.grants.token_n", map[string]any{"N": n + 1}), &form[i])})
		}
	}
	for i := 0; i < blankTokenRows && len(v.Tokens) < pageTokenRows; i++ {
		n := len(v.Tokens)
		v.Tokens = append(v.Tokens, grantRow{N: n, Checks: checks(h.srv.T(r, "keys.grants.token_n", map[string]any{"N": n + 1}), nil)})
	}
	return v
}

// grantSubject names the role or token of a grant.
func (h *handlers) grantSubject(r *http.Request, g Grant) string {
	if g.Kind == "token" {
		return h.srv.T(r, "keys.grants.token", map[string]any{"ID": g.Subject})
	}
	return h.srv.T(r, "keys.grants.role", map[string]any{"Role": h.srv.T(r, "role."+g.Subject, nil)})
}

// readGrantsForm reads the grants form: the checked operations of each
// role, and each token row with a number. A token named twice is an error
// (field "grants"); the rest the service checks.
func readGrantsForm(r *http.Request) ([]Grant, map[string]string) {
	fields := map[string]string{}
	out := []Grant{}
	ops := func(name string) []Operation {
		var list []Operation
		for _, o := range r.PostForm[name] {
			if op := Operation(o); !slices.Contains(list, op) {
				list = append(list, op)
			}
		}
		return list
	}
	if err := r.ParseForm(); err != nil {
		fields["grants"] = "error.invalid_input"
		return out, fields
	}
	for _, role := range authz.Roles {
		if list := ops("role_" + string(role)); len(list) > 0 {
			out = append(out, Grant{Kind: "role", Subject: string(role), Operations: list})
		}
	}
	seen := map[string]bool{}
	for i := range pageTokenRows {
		id := strings.TrimSpace(r.PostFormValue(fmt.Sprintf("token_%d", i)))
		if id == "" {
			continue
		}
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			id = strconv.FormatInt(n, 10) // "07" is token 7
		}
		if seen[id] {
			fields["grants"] = "keys.validation.grant_duplicate"
		}
		seen[id] = true
		out = append(out, Grant{Kind: "token", Subject: id, Operations: ops(fmt.Sprintf("token_%d_op", i))})
	}
	return out, fields
}

func (h *handlers) keyGrants(w http.ResponseWriter, r *http.Request) {
	grants, fields := readGrantsForm(r)
	if len(fields) == 0 {
		if err := h.svc.SetGrants(r.Context(), actorOf(r), r.PathValue("name"), grants); err != nil {
			if !addFields(fields, err) {
				h.pageError(w, r, err)
				return
			}
		}
	}
	if len(fields) > 0 {
		h.renderKey(w, r, http.StatusUnprocessableEntity, fields, grants)
		return
	}
	h.srv.Flash(w, "keys.flash.grants")
	http.Redirect(w, r, keyURL(r)+"#grants", http.StatusSeeOther)
}
