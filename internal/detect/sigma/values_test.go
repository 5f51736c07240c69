package sigma

import "testing"

func TestValues_WildcardsAndEscaping(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"exact is case-insensitive", "sel:\n    a: 'Whoami.EXE'\ncondition: sel", `{"a":"whoami.exe"}`, true},
		{"exact is whole", "sel:\n    a: 'whoami'\ncondition: sel", `{"a":"whoami.exe"}`, false},
		{"star", "sel:\n    a: 'prog*.exe'\ncondition: sel", `{"a":"progA1.exe"}`, true},
		{"star empty run", "sel:\n    a: 'prog*.exe'\ncondition: sel", `{"a":"prog.exe"}`, true},
		{"question mark", "sel:\n    a: 'prog?.exe'\ncondition: sel", `{"a":"progB.exe"}`, true},
		{"question mark is one", "sel:\n    a: 'prog?.exe'\ncondition: sel", `{"a":"prog.exe"}`, false},
		{"question mark is one rune", "sel:\n    a: '?京'\ncondition: sel", `{"a":"東京"}`, true},
		{"escaped star is plain", "sel:\n    a: 'a\\*b'\ncondition: sel", `{"a":"a*b"}`, true},
		{"escaped star is not a wildcard", "sel:\n    a: 'a\\*b'\ncondition: sel", `{"a":"axxb"}`, false},
		{"escaped question mark", "sel:\n    a: 'a\\?'\ncondition: sel", `{"a":"a?"}`, true},
		{"escaped question mark no", "sel:\n    a: 'a\\?'\ncondition: sel", `{"a":"ab"}`, false},
		{"single backslash is plain", "sel:\n    a: 'C:\\Windows\\x'\ncondition: sel", `{"a":"c:\\windows\\x"}`, true},
		{"double backslash is one", "sel:\n    a: 'C:\\\\Windows'\ncondition: sel", `{"a":"c:\\windows"}`, true},
		{"backslash then wildcard", "sel:\n    a: 'dir\\\\*'\ncondition: sel", `{"a":"dir\\anything"}`, true},
		{"three backslashes: backslash and star", "sel:\n    a: 'dir\\\\\\*'\ncondition: sel", `{"a":"dir\\*"}`, true},
		{"three backslashes: no wildcard", "sel:\n    a: 'dir\\\\\\*'\ncondition: sel", `{"a":"dir\\x"}`, false},
		{"four backslashes are two", "sel:\n    a: 'a\\\\\\\\b'\ncondition: sel", `{"a":"a\\\\b"}`, true},
		{"middle glob", "sel:\n    a: '*foo*bar*baz'\ncondition: sel", `{"a":"1foo2bar3foo4baz"}`, true},
		{"middle glob no", "sel:\n    a: '*foo*bar*baz'\ncondition: sel", `{"a":"1bar2foo3baz"}`, false},
		{"only star", "sel:\n    a: '*'\ncondition: sel", `{"a":"anything"}`, true},
		{"star matches empty", "sel:\n    a: '*'\ncondition: sel", `{"a":""}`, true},
		{"glob unicode fold", "sel:\n    a: '*ÄRZT?N'\ncondition: sel", `{"a":"Die Ärztin"}`, true},
	})
}

func TestValues_SpecialValues(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"null: absent", "sel:\n    a: null\ncondition: sel", `{"b":1}`, true},
		{"null: json null", "sel:\n    a: null\ncondition: sel", `{"a":null}`, true},
		{"null: present", "sel:\n    a: null\ncondition: sel", `{"a":""}`, false},
		{"not null", "sel:\n    x: 1\nfilter:\n    a: null\ncondition: sel and not filter", `{"x":1,"a":"v"}`, true},
		{"null in a list", "sel:\n    a:\n        - null\n        - x\ncondition: sel", `{"a":"x"}`, true},
		{"null in a list: absent", "sel:\n    a:\n        - null\n        - x\ncondition: sel", `{}`, true},
		{"empty", "sel:\n    a: ''\ncondition: sel", `{"a":""}`, true},
		{"empty: absent", "sel:\n    a: ''\ncondition: sel", `{}`, false},
		{"empty: not empty", "sel:\n    a: ''\ncondition: sel", `{"a":"x"}`, false},
		{"number", "sel:\n    EventID: 4688\ncondition: sel", `{"EventID":4688}`, true},
		{"number no", "sel:\n    EventID: 4688\ncondition: sel", `{"EventID":4689}`, false},
		{"number against text", "sel:\n    EventID: 4688\ncondition: sel", `{"EventID":"4688"}`, true},
		{"text against number", "sel:\n    EventID: '4688'\ncondition: sel", `{"EventID":4688}`, true},
		{"number list", "sel:\n    EventID:\n        - 517\n        - 1102\ncondition: sel", `{"EventID":1102}`, true},
		{"float", "sel:\n    v: 1.5\ncondition: sel", `{"v":1.5}`, true},
		{"bool", "sel:\n    b: true\ncondition: sel", `{"b":true}`, true},
		{"bool no", "sel:\n    b: true\ncondition: sel", `{"b":false}`, false},
		{"bool against text", "sel:\n    b: false\ncondition: sel", `{"b":"False"}`, true},
		{"object is no value", "sel:\n    a: 'x'\ncondition: sel", `{"a":{"b":"x"}}`, false},
	})
}

func TestValues_ListsInEvents(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"any element", "sel:\n    flags: after_hours\ncondition: sel", `{"flags":["vip","after_hours"]}`, true},
		{"no element", "sel:\n    flags: after_hours\ncondition: sel", `{"flags":["vip"]}`, false},
		{"empty list", "sel:\n    flags: after_hours\ncondition: sel", `{"flags":[]}`, false},
		{"contains in element", "sel:\n    flags|contains: hours\ncondition: sel", `{"flags":["vip","after_hours"]}`, true},
		{"numbers", "sel:\n    ports: 445\ncondition: sel", `{"ports":[80, 445]}`, true},
		{"nested list", "sel:\n    a: x\ncondition: sel", `{"a":[["x"]]}`, true},
		{"neq over a list", "sel:\n    flags|neq: vip\ncondition: sel", `{"flags":["x","vip"]}`, false},
	})
}

func TestValues_Maps(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"map is and", "sel:\n    a: 1\n    b: 2\ncondition: sel", `{"a":1,"b":2}`, true},
		{"map is and: one fails", "sel:\n    a: 1\n    b: 2\ncondition: sel", `{"a":1,"b":3}`, false},
		{"list of maps is or", "sel:\n    - a: 1\n    - b: 2\ncondition: sel", `{"b":2}`, true},
		{"list of maps is or: none", "sel:\n    - a: 1\n    - b: 2\ncondition: sel", `{"a":2,"b":1}`, false},
		{"dotted field", "sel:\n    actor.id: u1\ncondition: sel", `{"actor":{"id":"U1"}}`, true},
		{"literal dotted key first", "sel:\n    actor.id: u1\ncondition: sel", `{"actor.id":"u1","actor":{"id":"u2"}}`, true},
		{"xml text", "sel:\n    EventID: 4688\ncondition: sel", `{"EventID":{"#text":4688,"#attributes":{"Qualifiers":""}}}`, true},
	})
}

func TestKeywords(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"one of", "keywords:\n    - 'event::clear'\n    - 'event::drop'\ncondition: keywords", `{"msg":"mimikatz # EVENT::DROP now"}`, true},
		{"none", "keywords:\n    - 'event::clear'\ncondition: keywords", `{"msg":"event clear"}`, false},
		{"nested value", "keywords:\n    - 'secret'\ncondition: keywords", `{"a":{"b":["x","top SECRET"]}}`, true},
		{"keys are not searched", "keywords:\n    - 'secret'\ncondition: keywords", `{"secret":"x"}`, false},
		{"number as JSON writes it", "keywords:\n    - '4688'\ncondition: keywords", `{"id":4688}`, true},
		{"wildcard", "keywords:\n    - 'foo*baz'\ncondition: keywords", `{"m":"a foo bar baz b"}`, true},
		{"all", "keywords:\n    '|all':\n        - 'OabVirtualDirectory'\n        - ' -ExternalUrl '\ncondition: keywords", `{"a":"Set-OabVirtualDirectory","b":"x -ExternalUrl y"}`, true},
		{"all: one missing", "keywords:\n    '|all':\n        - 'OabVirtualDirectory'\n        - ' -ExternalUrl '\ncondition: keywords", `{"a":"Set-OabVirtualDirectory"}`, false},
		{"keyword with modifier", "keywords:\n    '|startswith':\n        - 'evil'\ncondition: keywords", `{"a":"x evil","b":"Evil thing"}`, true},
		{"keyword with re", "keywords:\n    '|re': '^[0-9]+$'\ncondition: keywords", `{"a":"x","b":"123"}`, true},
		{"keyword and field", "keywords:\n    - 'drop'\nsel:\n    user: admin\ncondition: keywords and sel", `{"user":"admin","m":"DROP"}`, true},
	})
	runRejectCases(t, []rejectCase{
		{"maps and keywords mixed", "sel:\n    - a: 1\n    - 'x'\ncondition: sel", "either maps or plain values"},
		{"null keyword", "sel:\n    - null\ncondition: sel", "null is not a keyword"},
		{"nested list", "sel:\n    - - x\ncondition: sel", "not nested lists"},
	})
}
