package sigma

import "testing"

// The modifiers of the appendix v2.1, one table each: what matches and
// what does not.

func TestModifier_Contains(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"middle", "sel:\n    CommandLine|contains: 'vssadmin'\ncondition: sel", `{"CommandLine":"C:\\x\\VSSADMIN.exe delete"}`, true},
		{"start", "sel:\n    CommandLine|contains: 'vss'\ncondition: sel", `{"CommandLine":"vss"}`, true},
		{"absent text", "sel:\n    CommandLine|contains: 'vssadmin'\ncondition: sel", `{"CommandLine":"cmd.exe"}`, false},
		{"absent field", "sel:\n    CommandLine|contains: 'vssadmin'\ncondition: sel", `{"Image":"vssadmin"}`, false},
		{"list is or", "sel:\n    a|contains:\n        - foo\n        - bar\ncondition: sel", `{"a":"xbarx"}`, true},
		{"wildcard inside", "sel:\n    a|contains: 'foo*bar'\ncondition: sel", `{"a":"xx foo 1 bar xx"}`, true},
		{"wildcard inside no", "sel:\n    a|contains: 'foo*bar'\ncondition: sel", `{"a":"bar foo"}`, false},
		{"non-ascii", "sel:\n    a|contains: '電子カルテ'\ncondition: sel", `{"a":"病院の電子カルテを開いた"}`, true},
		{"unicode case", "sel:\n    a|contains: 'ÄRZT'\ncondition: sel", `{"a":"der ärztin"}`, true},
		{"number as text", "sel:\n    a|contains: 23\ncondition: sel", `{"a":1234}`, true},
	})
}

func TestModifier_StartsWithEndsWith(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"startswith", "sel:\n    a|startswith: 'adm'\ncondition: sel", `{"a":"Administrator"}`, true},
		{"startswith no", "sel:\n    a|startswith: 'adm'\ncondition: sel", `{"a":"xadm"}`, false},
		{"endswith", "sel:\n    Image|endswith: '\\cmd.exe'\ncondition: sel", `{"Image":"C:\\Windows\\System32\\CMD.EXE"}`, true},
		{"endswith no", "sel:\n    Image|endswith: '\\cmd.exe'\ncondition: sel", `{"Image":"C:\\cmd.exe.bak"}`, false},
		{"endswith non-ascii event", "sel:\n    a|endswith: '.exe'\ncondition: sel", `{"a":"日本.EXE"}`, true},
		{"startswith non-ascii", "sel:\n    a|startswith: '東京'\ncondition: sel", `{"a":"東京都"}`, true},
		{"startswith wildcard", "sel:\n    a|startswith: 'a?c'\ncondition: sel", `{"a":"abcdef"}`, true},
	})
}

func TestModifier_All(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"all present", "sel:\n    CommandLine|contains|all:\n        - ' -a '\n        - ' -b '\ncondition: sel", `{"CommandLine":"x -b  -a y"}`, true},
		{"one missing", "sel:\n    CommandLine|contains|all:\n        - ' -a '\n        - ' -b '\ncondition: sel", `{"CommandLine":"x -a y"}`, false},
		{"all over an event list", "sel:\n    a|all:\n        - x\n        - y\ncondition: sel", `{"a":["y","x"]}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"single value", "sel:\n    a|all: x\ncondition: sel", "|all needs a list"},
		{"null in all", "sel:\n    a|all:\n        - x\n        - null\ncondition: sel", "null cannot be one of the values of |all"},
	})
}

func TestModifier_Exists(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"exists true", "sel:\n    a|exists: true\ncondition: sel", `{"a":""}`, true},
		{"exists true null", "sel:\n    a|exists: true\ncondition: sel", `{"a":null}`, true},
		{"exists true absent", "sel:\n    a|exists: true\ncondition: sel", `{"b":1}`, false},
		{"exists false", "sel:\n    a|exists: false\ncondition: sel", `{"b":1}`, true},
		{"exists false present", "sel:\n    a|exists: false\ncondition: sel", `{"a":1}`, false},
	})
	runRejectCases(t, []rejectCase{
		{"not a boolean", "sel:\n    a|exists: 'yes'\ncondition: sel", "|exists takes true or false"},
		{"with another", "sel:\n    a|exists|contains: true\ncondition: sel", "|exists cannot be combined with |contains"},
	})
}

func TestModifier_Cased(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"same case", "sel:\n    a|cased: Foo\ncondition: sel", `{"a":"Foo"}`, true},
		{"other case", "sel:\n    a|cased: Foo\ncondition: sel", `{"a":"foo"}`, false},
		{"contains cased", "sel:\n    a|contains|cased: Foo\ncondition: sel", `{"a":"xFoox"}`, true},
		{"contains cased no", "sel:\n    a|contains|cased: Foo\ncondition: sel", `{"a":"xFOOx"}`, false},
		{"glob cased", "sel:\n    a|cased: 'F?o*'\ncondition: sel", `{"a":"Fxo bar"}`, true},
		{"glob cased no", "sel:\n    a|cased: 'F?o*'\ncondition: sel", `{"a":"fxo bar"}`, false},
	})
}

func TestModifier_Neq(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"differs", "sel:\n    a|neq: foo\ncondition: sel", `{"a":"bar"}`, true},
		{"equal (case-insensitive)", "sel:\n    a|neq: foo\ncondition: sel", `{"a":"FOO"}`, false},
		{"list: none of", "sel:\n    a|neq:\n        - foo\n        - bar\ncondition: sel", `{"a":"bar"}`, false},
		{"list: none of, other", "sel:\n    a|neq:\n        - foo\n        - bar\ncondition: sel", `{"a":"baz"}`, true},
		{"number", "sel:\n    a|neq: 4\ncondition: sel", `{"a":5}`, true},
		{"number equal", "sel:\n    a|neq: 4\ncondition: sel", `{"a":4}`, false},
		{"absent field", "sel:\n    a|neq: foo\ncondition: sel", `{"b":"x"}`, true},
		{"with fieldref", "sel:\n    a|fieldref|neq: b\ncondition: sel", `{"a":"x","b":"y"}`, true},
		{"with fieldref equal", "sel:\n    a|fieldref|neq: b\ncondition: sel", `{"a":"x","b":"X"}`, false},
	})
}

func TestModifier_Windash(t *testing.T) {
	det := "sel:\n    CommandLine|windash|contains: ' -exec bypass'\ncondition: sel"
	runMatchCases(t, []matchCase{
		{"hyphen", det, `{"CommandLine":"powershell -exec bypass"}`, true},
		{"slash", det, `{"CommandLine":"powershell /exec bypass"}`, true},
		{"en dash", det, `{"CommandLine":"powershell \u2013exec bypass"}`, true},
		{"em dash", det, `{"CommandLine":"powershell \u2014exec bypass"}`, true},
		{"horizontal bar", det, `{"CommandLine":"powershell \u2015exec bypass"}`, true},
		{"other char", det, `{"CommandLine":"powershell +exec bypass"}`, false},
		{"dash inside a word stays", "sel:\n    a|windash: 'x-y'\ncondition: sel", `{"a":"x/y"}`, false},
		{"two flags", "sel:\n    a|windash|contains: ' -a -b'\ncondition: sel", `{"a":"x /a \u2013b"}`, true},
		{"exact", "sel:\n    a|windash: '-s'\ncondition: sel", `{"a":"/S"}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"after base64", "sel:\n    a|base64|windash: '-x'\ncondition: sel", "|windash must come before |base64"},
		{"with re", "sel:\n    a|re|windash: '-x'\ncondition: sel", "|re cannot be combined with |windash"},
		{"too many", "sel:\n    a|windash: ' -a -b -c -d -e'\ncondition: sel", "|windash"},
	})
}

func TestModifier_Re(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"match", "sel:\n    a|re: '^foo[0-9]+$'\ncondition: sel", `{"a":"foo123"}`, true},
		{"case-sensitive by default", "sel:\n    a|re: '^foo$'\ncondition: sel", `{"a":"FOO"}`, false},
		{"i flag", "sel:\n    a|re|i: '^foo$'\ncondition: sel", `{"a":"FOO"}`, true},
		{"unanchored", "sel:\n    a|re: 'o{2}'\ncondition: sel", `{"a":"xfoox"}`, true},
		{"m flag", "sel:\n    a|re|m: '^bar$'\ncondition: sel", `{"a":"foo\nbar"}`, true},
		{"no m flag", "sel:\n    a|re: '^bar$'\ncondition: sel", `{"a":"foo\nbar"}`, false},
		{"s flag", "sel:\n    a|re|s: 'foo.bar'\ncondition: sel", `{"a":"foo\nbar"}`, true},
		{"no s flag", "sel:\n    a|re: 'foo.bar'\ncondition: sel", `{"a":"foo\nbar"}`, false},
		{"all flags", "sel:\n    a|re|i|m|s: '^X.Y$'\ncondition: sel", `{"a":"q\nx\ny"}`, true},
		{"number field", "sel:\n    a|re: '^4[0-9]{3}$'\ncondition: sel", `{"a":4688}`, true},
		{"lookahead in a class is a class", "sel:\n    a|re: '[(?=]'\ncondition: sel", `{"a":"="}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"lookahead", "sel:\n    a|re: 'foo(?=bar)'\ncondition: sel", "|re: lookahead (?= is not supported"},
		{"negative lookahead", "sel:\n    a|re: 'foo(?!bar)'\ncondition: sel", "negative lookahead (?!"},
		{"lookbehind", "sel:\n    a|re: '(?<=a)b'\ncondition: sel", "lookbehind (?<="},
		{"negative lookbehind", "sel:\n    a|re: '(?<!a)b'\ncondition: sel", "negative lookbehind (?<!"},
		{"backreference", "sel:\n    a|re: '(a)\\1'\ncondition: sel", "backreference \\1"},
		{"named backreference", "sel:\n    a|re: '(?P<x>a)\\k<x>'\ncondition: sel", "named backreference \\k"},
		{"atomic group", "sel:\n    a|re: '(?>ab)'\ncondition: sel", "atomic group (?>"},
		{"possessive star", "sel:\n    a|re: 'a*+b'\ncondition: sel", "possessive quantifier *+"},
		{"possessive plus", "sel:\n    a|re: 'a++b'\ncondition: sel", "possessive quantifier ++"},
		{"possessive brace", "sel:\n    a|re: 'a{2}+'\ncondition: sel", "possessive quantifier }+"},
		{"bad syntax", "sel:\n    a|re: 'a(b'\ncondition: sel", "|re: missing closing )"},
		{"flag before re", "sel:\n    a|i|re: 'x'\ncondition: sel", "|i is a flag of |re and must follow it"},
		{"flag without re", "sel:\n    a|i: 'x'\ncondition: sel", "|i is a flag of |re"},
		{"with contains", "sel:\n    a|re|contains: 'x'\ncondition: sel", "|re cannot be combined with |contains"},
		{"with cased", "sel:\n    a|re|cased: 'x'\ncondition: sel", "|re cannot be combined with |cased"},
		{"not a string", "sel:\n    a|re: 5\ncondition: sel", "|re needs a string"},
	})
}

func TestModifier_Cidr(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"v4 in", "sel:\n    ip|cidr: 10.0.0.0/8\ncondition: sel", `{"ip":"10.1.2.3"}`, true},
		{"v4 out", "sel:\n    ip|cidr: 10.0.0.0/8\ncondition: sel", `{"ip":"11.1.2.3"}`, false},
		{"v4 list", "sel:\n    ip|cidr:\n        - 10.0.0.0/8\n        - 192.168.0.0/16\ncondition: sel", `{"ip":"192.168.5.5"}`, true},
		{"v6 in", "sel:\n    ip|cidr: 'fd00::/8'\ncondition: sel", `{"ip":"fd12:3456::1"}`, true},
		{"v6 out", "sel:\n    ip|cidr: 'fd00::/8'\ncondition: sel", `{"ip":"fe80::1"}`, false},
		{"v4-mapped v6", "sel:\n    ip|cidr: 10.0.0.0/8\ncondition: sel", `{"ip":"::ffff:10.0.0.1"}`, true},
		{"not an address", "sel:\n    ip|cidr: 10.0.0.0/8\ncondition: sel", `{"ip":"10.0.0.x"}`, false},
		{"neq", "sel:\n    ip|cidr|neq: 10.0.0.0/8\ncondition: sel", `{"ip":"8.8.8.8"}`, true},
		{"host bits ignored", "sel:\n    ip|cidr: 10.1.2.3/8\ncondition: sel", `{"ip":"10.200.0.1"}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"not a network", "sel:\n    ip|cidr: 'ten/8'\ncondition: sel", "|cidr: \"ten/8\" is not a network"},
		{"with contains", "sel:\n    ip|cidr|contains: 10.0.0.0/8\ncondition: sel", "|cidr cannot be combined with |contains"},
	})
}

func TestModifier_Numeric(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"lt", "sel:\n    n|lt: 10\ncondition: sel", `{"n":9}`, true},
		{"lt equal", "sel:\n    n|lt: 10\ncondition: sel", `{"n":10}`, false},
		{"lte equal", "sel:\n    n|lte: 10\ncondition: sel", `{"n":10}`, true},
		{"gt", "sel:\n    n|gt: 10\ncondition: sel", `{"n":10.5}`, true},
		{"gt no", "sel:\n    n|gt: 10\ncondition: sel", `{"n":3}`, false},
		{"gte equal", "sel:\n    n|gte: 10\ncondition: sel", `{"n":10}`, true},
		{"numeric string", "sel:\n    n|gte: 10\ncondition: sel", `{"n":"12"}`, true},
		{"not a number", "sel:\n    n|gte: 10\ncondition: sel", `{"n":"lots"}`, false},
		{"float rule", "sel:\n    n|lt: 0.5\ncondition: sel", `{"n":0.25}`, true},
		{"list element", "sel:\n    n|gt: 10\ncondition: sel", `{"n":[1, 20]}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"string value", "sel:\n    n|lt: 'ten'\ncondition: sel", "|lt needs a number"},
		{"two comparisons", "sel:\n    n|lt|gt: 10\ncondition: sel", "|lt cannot be combined with |gt"},
		{"with contains", "sel:\n    n|lt|contains: 10\ncondition: sel", "|lt cannot be combined with |contains"},
	})
}

func TestModifier_Time(t *testing.T) {
	// 2026-03-08T23:45:12Z is a Sunday in ISO week 10.
	const e = `{"t":"2026-03-08T23:45:12Z"}`
	const local = `{"t":"2026-03-09T08:45:12+09:00"}`
	const unix = `{"t":1773013512}`
	runMatchCases(t, []matchCase{
		{"minute", "sel:\n    t|minute: 45\ncondition: sel", e, true},
		{"hour", "sel:\n    t|hour: 23\ncondition: sel", e, true},
		{"hour no", "sel:\n    t|hour: 22\ncondition: sel", e, false},
		{"hour in UTC from +09:00", "sel:\n    t|hour: 23\ncondition: sel", local, true},
		{"day", "sel:\n    t|day: 8\ncondition: sel", e, true},
		{"week", "sel:\n    t|week: 10\ncondition: sel", e, true},
		{"month", "sel:\n    t|month: 3\ncondition: sel", e, true},
		{"year", "sel:\n    t|year: 2026\ncondition: sel", e, true},
		{"unix seconds", "sel:\n    t|hour: 23\ncondition: sel", unix, true},
		{"hour gte", "sel:\n    t|hour|gte: 22\ncondition: sel", e, true},
		{"hour lt", "sel:\n    t|hour|lt: 6\ncondition: sel", e, false},
		{"after hours list", "sel:\n    t|hour:\n        - 22\n        - 23\ncondition: sel", e, true},
		{"hour neq", "sel:\n    t|hour|neq: 23\ncondition: sel", e, false},
		{"not a time", "sel:\n    t|hour: 23\ncondition: sel", `{"t":"yesterday"}`, false},
	})
	runRejectCases(t, []rejectCase{
		{"two parts", "sel:\n    t|hour|day: 1\ncondition: sel", "|hour cannot be combined with |day"},
		{"string value", "sel:\n    t|hour: 'night'\ncondition: sel", "|hour needs a number"},
		{"with contains", "sel:\n    t|hour|contains: 1\ncondition: sel", "|hour cannot be combined with |contains"},
	})
}

func TestModifier_Base64(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"exact", "sel:\n    a|base64: 'whoami'\ncondition: sel", `{"a":"d2hvYW1p"}`, true},
		{"contains", "sel:\n    a|base64|contains: 'whoami'\ncondition: sel", `{"a":"xx d2hvYW1p yy"}`, true},
		{"case matters in base64", "sel:\n    a|base64: 'whoami'\ncondition: sel", `{"a":"D2HVYW1P"}`, false},
		{"plain text is not base64", "sel:\n    a|base64|contains: 'whoami'\ncondition: sel", `{"a":"whoami"}`, false},
		{"utf16le", "sel:\n    a|utf16le|base64: 'IEX'\ncondition: sel", `{"a":"SQBFAFgA"}`, true},
		{"wide", "sel:\n    a|wide|base64: 'IEX'\ncondition: sel", `{"a":"SQBFAFgA"}`, true},
		{"utf16be", "sel:\n    a|utf16be|base64: 'cmd'\ncondition: sel", `{"a":"AGMAbQBk"}`, true},
		{"utf16 with BOM", "sel:\n    a|utf16|base64: 'cmd'\ncondition: sel", `{"a":"//5jAG0AZAA="}`, true},
		{"utf16le plain", "sel:\n    a|wide|contains: 'ab'\ncondition: sel", `{"a":"xa\u0000b\u0000"}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"wildcard", "sel:\n    a|base64: 'who*'\ncondition: sel", "|base64 of a value with wildcards"},
		{"contains first", "sel:\n    a|contains|base64: 'who'\ncondition: sel", "|contains must come after |base64"},
		{"encoding after base64", "sel:\n    a|base64|utf16le: 'who'\ncondition: sel", "|utf16le must come before |base64"},
		{"two encodings", "sel:\n    a|utf16le|utf16be|base64: 'who'\ncondition: sel", "|utf16le cannot be combined with |utf16be"},
	})
}

func TestModifier_Base64Offset(t *testing.T) {
	det := "sel:\n    a|base64offset|contains: 'http://'\ncondition: sel"
	runMatchCases(t, []matchCase{
		{"offset 0", det, `{"a":"aHR0cDovL2V2aWw="}`, true},         // "http://evil"
		{"offset 1", det, `{"a":"IGh0dHA6Ly8="}`, true},             // " http://"
		{"offset 2", det, `{"a":"eCBodHRwOi8vZXZpbA=="}`, true},     // "x http://evil"
		{"offset 3", det, `{"a":"eHggaHR0cDovL2V2aWwgeXk="}`, true}, // "xx http://evil yy"
		{"other text", det, `{"a":"ZnRwOi8vZXZpbA=="}`, false},      // "ftp://evil"
		{"wide offsets", "sel:\n    a|wide|base64offset|contains: 'IEX'\ncondition: sel", `{"a":"YQBiACAASQBFAFgAIAAoAE4AZQB3AA=="}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"without contains", "sel:\n    a|base64offset: 'x'\ncondition: sel", "|base64offset needs |contains"},
		{"with startswith", "sel:\n    a|base64offset|startswith: 'x'\ncondition: sel", "|base64offset needs |contains"},
		{"with base64", "sel:\n    a|base64|base64offset|contains: 'x'\ncondition: sel", "|base64 cannot be combined with |base64offset"},
	})
	// The three variants, as pySigma writes them.
	got := base64Offsets("http://")
	want := []string{"aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("base64Offsets(http://) = %q, want %q", got, want)
	}
}

func TestModifier_Fieldref(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"equal", "sel:\n    a|fieldref: b\ncondition: sel", `{"a":"Admin","b":"admin"}`, true},
		{"differ", "sel:\n    a|fieldref: b\ncondition: sel", `{"a":"x","b":"y"}`, false},
		{"ref absent", "sel:\n    a|fieldref: b\ncondition: sel", `{"a":"x"}`, false},
		{"numbers", "sel:\n    a|fieldref: b\ncondition: sel", `{"a":5,"b":5}`, true},
		{"startswith", "sel:\n    a|fieldref|startswith: b\ncondition: sel", `{"a":"C:\\Users\\x","b":"c:\\users"}`, true},
		{"endswith", "sel:\n    a|fieldref|endswith: b\ncondition: sel", `{"a":"foo.exe","b":".EXE"}`, true},
		{"contains", "sel:\n    a|fieldref|contains: b\ncondition: sel", `{"a":"xxfooxx","b":"foo"}`, true},
		{"contains no", "sel:\n    a|fieldref|contains: b\ncondition: sel", `{"a":"xxfoxx","b":"foo"}`, false},
		{"cased", "sel:\n    a|fieldref|cased: b\ncondition: sel", `{"a":"Admin","b":"admin"}`, false},
		{"dotted ref", "sel:\n    actor.id|fieldref: patient.id\ncondition: sel", `{"actor":{"id":"u1"},"patient":{"id":"U1"}}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"with re", "sel:\n    a|fieldref|re: b\ncondition: sel", "|re cannot be combined with |fieldref"},
		{"not a name", "sel:\n    a|fieldref: 5\ncondition: sel", "|fieldref needs a field name"},
	})
}

func TestModifier_Expand(t *testing.T) {
	ph := WithPlaceholders(map[string][]string{
		"admins":  {"root", "adm*"},
		"servers": {"srv1"},
		"empty":   {},
	})
	runMatchCases(t, []matchCase{
		{"first value", "sel:\n    user|expand: '%admins%'\ncondition: sel", `{"user":"root"}`, true},
		{"wildcard value", "sel:\n    user|expand: '%admins%'\ncondition: sel", `{"user":"administrator"}`, true},
		{"no value", "sel:\n    user|expand: '%admins%'\ncondition: sel", `{"user":"guest"}`, false},
		{"around text", "sel:\n    host|expand: 'x-%servers%-y'\ncondition: sel", `{"host":"X-SRV1-Y"}`, true},
		{"escaped percent", "sel:\n    a|expand: '\\%plain%servers%'\ncondition: sel", `{"a":"%plainsrv1"}`, true},
		{"without expand it is text", "sel:\n    user: '%admins%'\ncondition: sel", `{"user":"%admins%"}`, true},
		{"with contains", "sel:\n    user|expand|contains: '%servers%'\ncondition: sel", `{"user":"on srv1 today"}`, true},
	}, ph)
	runRejectCases(t, []rejectCase{
		{"unknown placeholder", "sel:\n    user|expand: '%nobody%'\ncondition: sel", "|expand: placeholder %nobody% has no values"},
		{"empty placeholder", "sel:\n    user|expand: '%empty%'\ncondition: sel", "|expand: placeholder %empty% has no values"},
		{"unclosed", "sel:\n    user|expand: '%admins'\ncondition: sel", "|expand: unclosed placeholder"},
	}, ph)
}

func TestModifier_RejectedChains(t *testing.T) {
	runRejectCases(t, []rejectCase{
		{"unknown", "sel:\n    a|foo: x\ncondition: sel", "unknown modifier |foo"},
		{"twice", "sel:\n    a|contains|contains: x\ncondition: sel", "modifier |contains given twice"},
		{"empty", "sel:\n    a||contains: x\ncondition: sel", "empty modifier"},
		{"two positions", "sel:\n    a|contains|startswith: x\ncondition: sel", "|contains cannot be combined with |startswith"},
		{"cidr contains", "sel:\n    a|cidr|contains: 10.0.0.0/8\ncondition: sel", "|cidr cannot be combined with |contains"},
		{"re cidr", "sel:\n    a|re|cidr: x\ncondition: sel", "|re cannot be combined with |cidr"},
		{"null with modifier", "sel:\n    a|contains: null\ncondition: sel", "null cannot take modifiers"},
		{"keyword with cidr", "sel:\n    '|cidr': 10.0.0.0/8\ncondition: sel", "keyword searches take string modifiers only"},
	})
}
