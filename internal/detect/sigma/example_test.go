package sigma_test

import (
	"encoding/json"
	"fmt"

	"github.com/anzen-health/anzen/internal/detect/sigma"
)

func Example() {
	rules := []byte(`title: VIP record exported after hours
id: 6f1c2a9e-0000-4000-8000-000000000001
logsource:
    product: anzen
    category: access
detection:
    selection:
        action: export
        flags: vip
        time|hour:
            - 22
            - 23
    filter_admin:
        profession: admin
    condition: selection and not filter_admin
level: high
`)
	set, err := sigma.Parse(rules)
	if err != nil {
		fmt.Println(err)
		return
	}
	fields, _ := sigma.FieldMapNamed("anzen")

	var obj map[string]any
	_ = json.Unmarshal([]byte(`{"time":"2026-03-08T22:15:00Z","action":"export","flags":["vip"],
		"actor":{"id":"u123","profession":"nurse"},"patient":{"id":"p77"}}`), &obj)
	e := sigma.NewJSONEvent(obj, fields)

	for _, r := range set.Rules {
		if fields.Applies(r, e) && r.Match(e) {
			fmt.Printf("%s (%s)\n", r.Title, r.Level)
		}
	}

	_, err = sigma.Parse([]byte(`title: bad
logsource: {product: anzen}
detection:
    selection:
        user|re: '^(?!svc_)'
    condition: selection
`))
	fmt.Println(err)
	// Output:
	// VIP record exported after hours (high)
	// line 5 (bad): detection selection, user|re: |re: negative lookahead (?! is not supported (Go's RE2 engine)
}
