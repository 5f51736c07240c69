package web_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

func TestFilledCards_OnlyThoseTheViewerMaySeeInOrderWithFailuresMarked(t *testing.T) {
	srv, logs := testServer(t, web.Options{})
	stat := func(v string) func(*http.Request) ([]web.Stat, error) {
		return func(*http.Request) ([]web.Stat, error) { return []web.Stat{{LabelID: "x", Value: v}}, nil }
	}
	srv.AddCard(web.Card{ID: "write", TitleID: "w", Access: web.Perm(permWrite), Order: 1, Stats: stat("1")})
	srv.AddCard(web.Card{ID: "read", TitleID: "r", Access: web.Perm(permRead), Order: 3, Stats: stat("3")})
	srv.AddCard(web.Card{ID: "broken", TitleID: "b", Access: web.Perm(permRead), Order: 2,
		Stats: func(*http.Request) ([]web.Stat, error) { return nil, errors.New("db down") }})

	r := web.WithPrincipal(httptest.NewRequest("GET", "/", nil), user(authz.Staff))
	got := srv.FilledCards(r)
	if len(got) != 2 || got[0].ID != "broken" || got[1].ID != "read" {
		t.Fatalf("cards for staff: %+v", got)
	}
	if !got[0].Failed || got[1].Failed || got[1].Stats[0].Value != "3" {
		t.Errorf("cards: %+v", got)
	}
	if !strings.Contains(logs.String(), "db down") {
		t.Error("the failing card's error is not logged")
	}
	if n := len(srv.FilledCards(web.WithPrincipal(httptest.NewRequest("GET", "/", nil), user(authz.Admin)))); n != 3 {
		t.Errorf("admin sees %d cards, want 3", n)
	}
	if n := len(srv.FilledCards(httptest.NewRequest("GET", "/", nil))); n != 0 {
		t.Errorf("nobody sees %d cards", n)
	}
}
