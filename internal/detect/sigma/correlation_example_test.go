package sigma

import (
	"fmt"
	"time"
)

// A user who opens the records of three different patients within ten
// minutes, per user: a value_count correlation over one detection rule.
func ExampleCorrelator() {
	view := &Rule{ID: "9f2c", Name: "record_view", Title: "Patient record viewed"}
	three := 3.0
	many := &Correlation{
		ID:        "5e1d",
		Title:     "Many patients' records in a short time",
		Type:      ValueCount,
		Rules:     []string{"record_view"},
		GroupBy:   []string{"user"},
		Timespan:  10 * time.Minute,
		Field:     "patient",
		Condition: CorrelationCondition{Gte: &three},
		Level:     LevelHigh,
	}
	c, err := NewCorrelator([]*Rule{view}, []*Correlation{many})
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	events := []corrEvent{
		{"user": "sato", "patient": "P-1"},
		{"user": "sato", "patient": "P-1"},
		{"user": "suzuki", "patient": "P-2"},
		{"user": "sato", "patient": "P-2"},
		{"user": "sato", "patient": "P-3"},
	}
	for i, e := range events {
		for _, m := range c.Observe(view, e, t0.Add(time.Duration(i)*time.Minute), int64(100+i)) {
			fmt.Printf("%s: %s=%s, %g patients, events %v, %s to %s\n", m.Correlation.Title,
				m.Group[0].Field, m.Group[0].Value, m.Value, m.Refs, m.First.Format("15:04"), m.Last.Format("15:04"))
		}
	}
	fmt.Println("record_view reported alone:", c.Generates(view))
	// Output:
	// Many patients' records in a short time: user=sato, 3 patients, events [101 103 104], 09:01 to 09:04
	// record_view reported alone: false
}
