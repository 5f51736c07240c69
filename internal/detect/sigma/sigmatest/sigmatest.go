// Package sigmatest holds the rules and events the benchmarks of the
// Sigma engine and of anzen detect eval share: 100 rules of the kinds
// anzen runs on access events, and realistic access events.
package sigmatest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Rules writes 100 rules of the kinds anzen runs on access events:
// exact fields (most), contains and startswith, regular expressions,
// networks, after-hours times and a few keyword searches.
func Rules() []byte {
	var b strings.Builder
	actions := []string{"export", "print", "delete", "write", "login", "read"}
	rule := func(i int, det string) {
		fmt.Fprintf(&b, "---\ntitle: bench %d\nid: bench-%d\nlogsource: {product: anzen, category: access}\nlevel: medium\ndetection:\n%s", i, i, det)
	}
	for i := range 100 {
		a := actions[i%len(actions)]
		switch {
		case i < 40:
			rule(i, fmt.Sprintf("    sel:\n        action: %s\n        department:\n            - ward-%d\n            - icu-%d\n        outcome: success\n    filter:\n        profession: admin\n    condition: sel and not filter\n", a, i, i))
		case i < 60:
			rule(i, fmt.Sprintf("    sel:\n        action: %s\n        object_id|startswith: 'rx-%d'\n        purpose|contains: 'research%d'\n    condition: sel\n", a, i, i))
		case i < 70:
			rule(i, fmt.Sprintf("    sel:\n        action: %s\n        patient_id|re: '^p9%d[0-9]{3}$'\n    condition: sel\n", a, i))
		case i < 80:
			rule(i, fmt.Sprintf("    sel:\n        action: %s\n        src_ip|cidr:\n            - 203.0.%d.0/24\n            - 2001:db8:%x::/48\n    condition: sel\n", a, i, i))
		case i < 90:
			rule(i, fmt.Sprintf("    sel:\n        action: %s\n        flags: vip\n        time|hour|gte: 22\n    filter_night:\n        department|endswith: '-night%d'\n    condition: sel and not filter_night\n", a, i))
		case i < 95:
			rule(i, fmt.Sprintf("    sel:\n        user|contains: 'tmp%d'\n        user_name|startswith: 'test%d'\n    condition: sel\n", i, i))
		default:
			rule(i, fmt.Sprintf("    keywords:\n        - 'mimikatz%d'\n        - 'sekurlsa::%d'\n    condition: keywords\n", i, i))
		}
	}
	return []byte(b.String())
}

// Events makes n access events with realistic values, as JSON decodes
// them.
func Events(n int) []map[string]any {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []string{"read", "read", "read", "read", "read", "read", "read", "write", "write", "print", "export", "login", "delete"}
	out := make([]map[string]any, n)
	for i := range out {
		flags := []any{}
		if rng.IntN(10) == 0 {
			flags = append(flags, "vip")
		}
		if rng.IntN(5) == 0 {
			flags = append(flags, "after_hours")
		}
		obj := map[string]any{
			"seq":      float64(i),
			"time":     fmt.Sprintf("2026-03-%02dT%02d:%02d:00Z", 1+rng.IntN(28), rng.IntN(24), rng.IntN(60)),
			"received": "2026-03-08T23:45:13Z",
			"facility": "tokyo-1",
			"source":   "his",
			"actor": map[string]any{
				"id":         fmt.Sprintf("u%05d", rng.IntN(5000)),
				"name":       "山田 花子",
				"profession": []string{"nurse", "doctor", "clerk", "admin", "pharmacist"}[rng.IntN(5)],
				"department": fmt.Sprintf("ward-%d", rng.IntN(120)),
				"terminal":   fmt.Sprintf("t-%d", rng.IntN(900)),
				"address":    fmt.Sprintf("10.%d.%d.%d", rng.IntN(255), rng.IntN(255), 1+rng.IntN(250)),
			},
			"action":  actions[rng.IntN(len(actions))],
			"patient": map[string]any{"id": fmt.Sprintf("p%06d", rng.IntN(900000)), "name": "佐藤 太郎"},
			"object":  map[string]any{"type": "record", "id": fmt.Sprintf("rec-%d", rng.IntN(1e6))},
			"outcome": "success",
			"purpose": "care",
			"session": fmt.Sprintf("s%08x", rng.Uint32()),
			"flags":   flags,
			"format":  "anzen",
		}
		out[i] = obj
	}
	return out
}
