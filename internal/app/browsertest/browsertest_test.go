package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUntranslated_MatchesBracketedMessageIDsOnly(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"<h1>[login.title]</h1>", true},
		{`<p title="[error.not_found]">`, true},
		{"[password.rules.length]", true},
		{"<h1>ログイン</h1>", false},
		{"[1.2]", false},
		{"arr[0]", false},
		{"[Sign in]", false},
		{"[dashboard]", false},
	}
	for _, tt := range tests {
		if got := untranslated.MatchString(tt.text); got != tt.want {
			t.Errorf("untranslated.MatchString(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// TestBrowser_SeesSecurityRefusalsAndDrivesForms runs the helpers against a
// small page: a form that goes to a second page, an inline script that the
// page's policy blocks, and a script served as HTML that nosniff blocks.
func TestBrowser_SeesSecurityRefusalsAndDrivesForms(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/wrong-type.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte("<p>not a script</p>"))
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="ja"><head><title>始め</title></head><body>
<h1 id="h">始め</h1><script>document.title = "inline ran";</script><script src="/static/wrong-type.js"></script>
<form method="post" action="/next"><input id="name" name="name"><select id="lang" name="lang">
<option value="ja">日本語</option><option value="en">English</option></select>
<button id="go" type="submit">送信</button></form></body></html>`))
	})
	mux.HandleFunc("POST /next", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>次</title></head><body><h1 id="h">` +
			r.PostFormValue("name") + " " + r.PostFormValue("lang") + `</h1><ul id="l"><li>a</li><li>b</li></ul></body></html>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := New(t, srv.URL)
	b.Open("/")
	b.Wait("#h")
	if got := b.Title(); got != "始め" {
		t.Errorf("title = %q, want 始め: the inline script must have been blocked", got)
	}
	b.Fill("#name", "看護師")
	b.Select("#lang", "en")
	b.Submit("#go")
	b.Wait("#l")
	if got := b.Text("#h"); got != "看護師 en" {
		t.Errorf("second page heading = %q, want %q", got, "看護師 en")
	}
	if n := b.Count("#l li"); n != 2 {
		t.Errorf("Count(#l li) = %d, want 2", n)
	}
	if p := b.Path(); p != "/next" {
		t.Errorf("Path() = %q, want /next", p)
	}
	v := strings.Join(b.TakeCSPViolations(), "\n")
	if !strings.Contains(v, "Content Security Policy") {
		t.Errorf("the blocked inline script was not reported; refusals seen:\n%s", v)
	}
	if !strings.Contains(v, "MIME type") {
		t.Errorf("the script served as HTML was not reported; refusals seen:\n%s", v)
	}
}

// TestBrowser_DownloadsAFile clicks a link to an attachment and reads the
// file Chromium saved.
func TestBrowser_DownloadsAFile(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="ja"><head><title>帳票</title></head><body>
<a id="dl" href="/files/list.csv">ダウンロード</a></body></html>`))
	})
	mux.HandleFunc("GET /files/list.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="list.csv"`)
		_, _ = w.Write([]byte("項目,回答\n1-1,はい\n"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := New(t, srv.URL)
	b.Open("/")
	b.Wait("#dl")
	name, body := b.Download("#dl")
	if name != "list.csv" || string(body) != "項目,回答\n1-1,はい\n" {
		t.Errorf("downloaded %q: %q", name, body)
	}
}
