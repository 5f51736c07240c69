package web

import (
	"net/http"
	"sort"
)

// Card is one box of the dashboard, filled by a part with its figures.
type Card struct {
	ID      string
	TitleID string
	Access  Access
	Order   int
	Stats   func(r *http.Request) ([]Stat, error)
}

// Stat is one figure on a card. Level is "", "ok", "warn" or "bad". Label,
// when set, is shown as it is instead of the message LabelID: for a figure
// about something named by data, such as one source system.
type Stat struct {
	LabelID string
	Label   string
	Value   string
	Level   string
	Link    string
}

// AddCard adds a card to the dashboard.
func (s *Server) AddCard(c Card) {
	s.cards = append(s.cards, c)
	sort.SliceStable(s.cards, func(i, j int) bool { return s.cards[i].Order < s.cards[j].Order })
}

// FilledCard is a card with its figures for one viewer.
type FilledCard struct {
	ID      string
	TitleID string
	Stats   []Stat
	Failed  bool // the part could not give its figures; the error is logged
}

// FilledCards fills every card the viewer of r may see, in order: what
// the dashboard shows, and what a part's home page shows below its own
// panels.
func (s *Server) FilledCards(r *http.Request) []FilledCard {
	p := PrincipalOf(r)
	var out []FilledCard
	for _, c := range s.cards {
		if perm, ok := c.Access.Permission(); ok && !p.Can(perm) {
			continue
		}
		stats, err := c.Stats(r)
		if err != nil {
			s.opt.Log.Error("dashboard card", "card", c.ID, "err", err)
		}
		out = append(out, FilledCard{ID: c.ID, TitleID: c.TitleID, Stats: stats, Failed: err != nil})
	}
	return out
}

// Dashboard renders every card the viewer may see.
func (s *Server) Dashboard(w http.ResponseWriter, r *http.Request) {
	s.Render(w, r, http.StatusOK, "web/dashboard", s.FilledCards(r))
}
