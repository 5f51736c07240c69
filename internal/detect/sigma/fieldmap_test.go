package sigma

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t testing.TB, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const accessEvent = `{"seq":42,"time":"2026-03-08T23:45:12Z","received":"2026-03-08T23:45:13Z",
"facility":"tokyo-1","source":"his",
"actor":{"id":"u123","name":"山田 花子","profession":"nurse","department":"ward-3","terminal":"t-9","address":"10.2.3.4"},
"action":"read","patient":{"id":"p77","name":"佐藤 太郎"},"object":{"type":"record","id":"r1"},
"outcome":"success","purpose":"care","session":"s1","flags":["after_hours","vip"],"format":"anzen"}`

func TestFieldMap_Anzen(t *testing.T) {
	m, err := FieldMapNamed("anzen")
	if err != nil {
		t.Fatal(err)
	}
	e := NewJSONEvent(decode(t, accessEvent), m)
	for name, want := range map[string]any{
		"user": "u123", "user_name": "山田 花子", "profession": "nurse", "department": "ward-3",
		"terminal": "t-9", "src_ip": "10.2.3.4", "patient": "p77", "patient_id": "p77",
		"patient_name": "佐藤 太郎", "object_type": "record", "object_id": "r1",
		"action": "read", "actor.department": "ward-3", "seq": float64(42),
	} {
		if got, ok := e.Field(name); !ok || got != want {
			t.Errorf("Field(%s) = %v, %v; want %v", name, got, ok, want)
		}
	}
	if _, ok := e.Field("nothing"); ok {
		t.Error("Field(nothing) is present")
	}
	set, err := Parse([]byte(`title: after-hours VIP read
logsource: {product: anzen, category: access}
detection:
    sel:
        action: read
        flags: vip
        time|hour|gte: 22
        src_ip|cidr: 10.0.0.0/8
    condition: sel
`))
	if err != nil {
		t.Fatal(err)
	}
	r := set.Rules[0]
	if !m.Applies(r, e) || !r.Match(e) {
		t.Errorf("Applies %v, Match %v; want both", m.Applies(r, e), r.Match(e))
	}
	other := &Rule{LogSource: LogSource{Product: "windows", Category: "process_creation"}}
	if m.Applies(other, e) || m.Covers(other) {
		t.Error("a Windows rule applies to anzen events")
	}
}

const sysmonEvent = `{"Event":{"System":{"Provider_attributes":{"Name":"Microsoft-Windows-Sysmon"},
"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws1",
"TimeCreated_attributes":{"SystemTime":"2026-03-08T23:45:12.123Z"}},
"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /all","User":"HOSP\\nurse1"}}}`

const securityEvent = `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},
"EventID":{"#text":"4688","#attributes":{"Qualifiers":""}},"Channel":"Security","Computer":"ws1"},
"EventData":{"NewProcessName":"C:\\Windows\\System32\\whoami.exe"}}}`

func TestFieldMap_Windows(t *testing.T) {
	m, err := FieldMapNamed("windows")
	if err != nil {
		t.Fatal(err)
	}
	sys := NewJSONEvent(decode(t, sysmonEvent), m)
	sec := NewJSONEvent(decode(t, securityEvent), m)
	for _, c := range []struct {
		e     Event
		field string
		want  any
	}{
		{sys, "EventID", float64(1)},
		{sys, "Channel", "Microsoft-Windows-Sysmon/Operational"},
		{sys, "Provider_Name", "Microsoft-Windows-Sysmon"},
		{sys, "TimeCreated", "2026-03-08T23:45:12.123Z"},
		{sys, "Image", `C:\Windows\System32\whoami.exe`},
		{sec, "EventID", "4688"},
		{sec, "Provider_Name", "Microsoft-Windows-Security-Auditing"},
		{sec, "NewProcessName", `C:\Windows\System32\whoami.exe`},
		{sec, "Image", `C:\Windows\System32\whoami.exe`},
	} {
		if got, ok := c.e.Field(c.field); !ok || got != c.want {
			t.Errorf("Field(%s) = %v, %v; want %v", c.field, got, ok, c.want)
		}
	}
	pc := &Rule{LogSource: LogSource{Product: "windows", Category: "process_creation"}}
	secRule := &Rule{LogSource: LogSource{Product: "windows", Service: "security"}}
	sysmonRule := &Rule{LogSource: LogSource{Product: "windows", Service: "sysmon"}}
	netRule := &Rule{LogSource: LogSource{Product: "windows", Category: "network_connection"}}
	for _, c := range []struct {
		name string
		r    *Rule
		e    Event
		want bool
	}{
		{"process_creation on sysmon 1", pc, sys, true},
		{"process_creation on security 4688", pc, sec, true},
		{"security on security", secRule, sec, true},
		{"security on sysmon", secRule, sys, false},
		{"sysmon on sysmon", sysmonRule, sys, true},
		{"network_connection on sysmon 1", netRule, sys, false},
	} {
		if got := m.Applies(c.r, c.e); got != c.want {
			t.Errorf("%s: Applies = %v, want %v", c.name, got, c.want)
		}
	}
	if m.Covers(&Rule{LogSource: LogSource{Product: "windows", Category: "no_such"}}) {
		t.Error("Covers an unknown category")
	}
}

func TestFieldMap_Parse(t *testing.T) {
	m, err := ParseFieldMap([]byte(`
fields:
    user: [a.user, b.user]
default: "data.{}"
logsources:
    - product: p
      conditions: {kind: [x, y]}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewJSONEvent(decode(t, `{"b":{"user":"u2"},"data":{"other":1},"kind":"Y"}`), m)
	if v, _ := e.Field("user"); v != "u2" {
		t.Errorf("alternative path: %v", v)
	}
	if v, _ := e.Field("other"); v != float64(1) {
		t.Errorf("default template: %v", v)
	}
	// The condition's field goes through the map too: kind is data.kind.
	if m.Applies(&Rule{LogSource: LogSource{Product: "p"}}, e) {
		t.Error("condition kind read from the top level instead of data.kind")
	}
	e2 := NewJSONEvent(decode(t, `{"data":{"kind":"x"}}`), m)
	if !m.Applies(&Rule{LogSource: LogSource{Product: "p", Category: "c"}}, e2) {
		t.Error("entry {product: p} does not cover a rule {product: p, category: c}")
	}
	for _, bad := range []struct{ yaml, msg string }{
		{"fields: [a]", "fields is a map"},
		{"default: data", "has no {}"},
		{"nope: 1", "unknown key \"nope\""},
		{"logsources: [{conditions: {a: 1}}]", "needs a category, product or service"},
		{"logsources: [{product: p, conditions: {a|contains: 1}}]", "plain values"},
		{"logsources: [{product: p, colour: red}]", "unknown logsource key"},
	} {
		if _, err := ParseFieldMap([]byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s: error %v, want one naming %q", bad.yaml, err, bad.msg)
		}
	}
	if _, err := FieldMapNamed("linux"); err == nil || !strings.Contains(err.Error(), "anzen, windows") {
		t.Errorf("FieldMapNamed(linux): %v", err)
	}
}

func TestJSONEvent_Keywords(t *testing.T) {
	e := NewJSONEvent(decode(t, `{"a":"x","b":{"c":[1.5,true,null,"y"]}}`), nil)
	var got []string
	e.Keywords(func(s string) bool { got = append(got, s); return false })
	want := map[string]bool{"x": true, "1.5": true, "true": true, "y": true}
	if len(got) != len(want) {
		t.Fatalf("keywords %q", got)
	}
	for _, s := range got {
		if !want[s] {
			t.Errorf("unexpected keyword %q", s)
		}
	}
	if !e.Keywords(func(s string) bool { return s == "y" }) {
		t.Error("Keywords did not report fn's true")
	}
}
