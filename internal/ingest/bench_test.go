package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/ingest"
)

// benchBatch is how many events one request of the benchmark carries.
const benchBatch = 1000

// benchBody is an NDJSON body of benchBatch realistic events (about 300
// bytes each).
func benchBody(client int) []byte {
	var b bytes.Buffer
	for i := range benchBatch {
		fmt.Fprintf(&b, `{"time":"2026-04-01T09:%02d:%02d.%03d+09:00","source":"ehr-main","actor":{"id":"n%04d","name":"山田 花子","profession":"nurse","department":"内科","terminal":"WS-%03d","address":"10.1.%d.%d"},"action":"view","patient":{"id":"P%07d"},"object":{"type":"record","id":"R%d-%d"},"outcome":"success","purpose":"treatment","session":"s-%d"}`+"\n",
			i/60%60, i%60, i%1000, i%500, i%200, client, i%250, i*7919%10000000, client, i, client)
	}
	return b.Bytes()
}

// BenchmarkHTTPIngest sends NDJSON bodies of 1000 events from concurrent
// clients to a whole anzen listening on loopback, and reports events
// stored per second (acknowledged after the durable commit).
func BenchmarkHTTPIngest(b *testing.B) {
	for _, d := range apptest.Dialects {
		b.Run(d, func(b *testing.B) {
			e := apptest.New(b, d)
			token := newToken(b, e, e.Facility)
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			client := &http.Client{Transport: tr}
			bodies := [][]byte{benchBody(0), benchBody(1), benchBody(2), benchBody(3)}
			b.SetParallelism(4) // 4 × GOMAXPROCS clients
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					req, _ := http.NewRequest(http.MethodPost, e.URL+ingest.EventsPath, bytes.NewReader(bodies[i%len(bodies)]))
					req.Header.Set("Content-Type", "application/x-ndjson")
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					var r ingest.Reply
					err = json.NewDecoder(resp.Body).Decode(&r)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || r.Accepted != benchBatch {
						b.Errorf("%d %+v %v", resp.StatusCode, r, err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			n := b.N * benchBatch
			b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
			// CPU time of the whole process (server and clients) per event:
			// on a shared machine a steadier figure than the rate.
			perEvent := float64((cpuTime() - cpu0).Nanoseconds()) / float64(n)
			b.ReportMetric(perEvent/1000, "cpu-µs/event")
			// The rate this CPU time allows with every core of the machine.
			b.ReportMetric(float64(runtime.NumCPU())*1e9/perEvent, "events/s@cpus")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
