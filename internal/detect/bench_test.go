package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/detect/sigma/sigmatest"
)

// BenchmarkHunt is anzen detect eval without the terminal: 100 rules over
// JSON lines of access events, read, decoded and matched on one core (run
// it with -cpu 1); events/s is the figure to read.
func BenchmarkHunt(b *testing.B) {
	files, err := LoadRuleFiles([]string{writeRules(b, map[string]string{"bench.yml": string(sigmatest.Rules())})})
	if err != nil || len(files.Rules()) != 100 {
		b.Fatalf("%d rules: %v", len(files.Rules()), err)
	}
	fields, err := sigma.FieldMapNamed("anzen")
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHunt(files, fields)
	if err != nil {
		b.Fatal(err)
	}
	const n = 50000
	var jsonl bytes.Buffer
	for _, obj := range sigmatest.Events(n) {
		line, _ := json.Marshal(obj)
		jsonl.Write(append(line, '\n'))
	}
	b.SetBytes(int64(jsonl.Len()))
	b.ResetTimer()
	events := 0
	for b.Loop() {
		st, err := h.Run(context.Background(), bytes.NewReader(jsonl.Bytes()), func(HuntMatch) error { return nil }, nil, nil)
		if err != nil || st.Events != n {
			b.Fatalf("%+v %v", st, err)
		}
		events += n
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
