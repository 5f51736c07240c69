package config

import (
	"slices"
	"strings"
	"testing"
)

func TestParseNotifyRoute_ReadsTheRouteOrSaysWhatIsWrong(t *testing.T) {
	r, err := ParseNotifyRoute(" min_level=medium; tags=attack.t1078 Medical.* ; to=privacy@hospital.example.jp https://siem.example/hook?key=s3cret ")
	if err != nil || r.MinLevel != "medium" || !slices.Equal(r.Tags, []string{"attack.t1078", "medical.*"}) ||
		!slices.Equal(r.Mail, []string{"privacy@hospital.example.jp"}) || !slices.Equal(r.Webhooks, []string{"https://siem.example/hook?key=s3cret"}) {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{
		"",
		"tags=a.b; to=x@example.jp",         // no level
		"min_level=urgent; to=x@example.jp", // unknown level
		"min_level=high",                    // nowhere to send
		"min_level=high; to=not-an-address", // not an address
		"min_level=high; to=ftp://x.example/?key=s3cret",        // not http(s)
		"min_level=high; tags=*; to=x@example.jp",               // every tag is no tag
		"min_level=high; tags=a*b; to=x@example.jp",             // * inside
		"min_level=high; level=low; to=x@example.jp",            // unknown key
		"min_level=high; min_level=low; to=x@example.jp",        // twice
		"min_level=high to=x@example.jp",                        // no ;
		"min_level=high; to=https://u:p@x.example/h?key=s3cret", // a password in the URL
	} {
		_, err := ParseNotifyRoute(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the secret: %v", bad, err)
		}
	}
}

// FuzzParseNotifyRoute: never a panic, and what is accepted has a level
// and somewhere to send to.
func FuzzParseNotifyRoute(f *testing.F) {
	for _, s := range []string{"min_level=high; tags=attack.t1078 medical.*; to=a@example.jp https://x.example/h",
		"min_level=critical; to=a@example.jp", ";;;", "to=", "min_level=low; tags=a.*; to=http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseNotifyRoute(s)
		if err == nil && (r.MinLevel == "" || len(r.Mail)+len(r.Webhooks) == 0) {
			t.Fatalf("%q accepted as %+v", s, r)
		}
	})
}

func TestDetectRoutes_BadSettingsNameTheKey(t *testing.T) {
	for _, tt := range []struct{ name, doc, wantKey string }{
		{"on-call without a mail server", `detect.notify.oncall = ["oncall@example.jp"]`, "detect.notify.oncall"},
		{"on-call not an address", "[mail]\nfrom = \"a@example.jp\"\n[mail.smtp]\nhost = \"relay\"\n[detect.notify]\noncall = [\"on call\"]", "detect.notify.oncall"},
		{"route mail without a mail server", `detect.notify.routes = ["min_level=high; to=ciso@example.jp"]`, "detect.notify.routes"},
		{"route without a level", `detect.notify.routes = ["to=https://siem.example/h?key=s3cret"]`, "detect.notify.routes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.doc, nil)
			if err == nil {
				t.Fatalf("accepted, config %+v", c.Detect)
			}
			if !strings.Contains(err.Error(), tt.wantKey) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q", err)
			}
		})
	}
	c, err := load(t, `detect.notify.routes = ["min_level=medium; tags=medical.*; to=https://siem.example/h", "min_level=critical; to=https://pager.example/h"]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if routes, err := c.Detect.NotifyRoutes(); err != nil || len(routes) != 2 || routes[1].MinLevel != "critical" {
		t.Errorf("routes %+v %v", routes, err)
	}
}
