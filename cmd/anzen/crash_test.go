package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/ingest"
)

// The crash test runs the real binary: it starts `anzen serve`, lets
// several clients send events over HTTP, kills the server with SIGKILL at
// a random moment, and checks, before starting it again, that every event
// acknowledged with 200 is in the log and that the log verifies. Several
// rounds on each database.

const (
	crashRounds  = 4
	crashClients = 4
	crashBatch   = 100
	crashSource  = "crash-test"
)

func TestCrash_EveryAcknowledgedEventSurvivesSIGKILL(t *testing.T) {
	bin := buildAnzen(t)
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t, d) // a fresh data directory and database
			// The first command, run in this process, seals the root key at
			// the test-only cost (apptest.UseCheapKeyDerivation), so that each
			// round's unseal, in checkLog under -race, takes milliseconds
			// instead of seconds; the binary reads the cost from the file.
			token := strings.TrimSpace(c.mustRun("token", "create", "--name", "crash-client",
				"--scope", "ingest", "--facility", "all").out)
			acked := map[string]bool{}
			for round := range crashRounds {
				srv := startServe(t, bin, c.args)
				ids := crashLoad(t, srv, token, round)
				if len(ids) == 0 {
					t.Fatalf("round %d: no event was acknowledged before the kill\n%s", round, srv.log())
				}
				for _, id := range ids {
					acked[id] = true
				}
				checkLog(t, c, acked, round)
			}
			// The server starts once more after the last kill.
			srv := startServe(t, bin, c.args)
			srv.kill(t)
		})
	}
}

// buildAnzen builds the binary (without the race detector) into a
// temporary directory.
func buildAnzen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "anzen")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// server is a running `anzen serve`.
type server struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs []string // the last lines of its own log
	done chan struct{}
}

var listening = regexp.MustCompile(`msg="anzen is listening".* address=(\S+)`)

// startServe starts `anzen serve` on a free port and waits until it
// listens.
func startServe(t *testing.T, bin string, global []string) *server {
	t.Helper()
	cmd := exec.Command(bin, append(append([]string(nil), global...), "serve", "--listen", "127.0.0.1:0")...)
	cmd.Env = append(os.Environ(), "ANZEN_LOG_FORMAT=text", "ANZEN_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done })
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs = append(s.logs, line)
			if len(s.logs) > 40 {
				s.logs = s.logs[1:]
			}
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		t.Fatalf("anzen serve ended before listening:\n%s", s.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("anzen serve did not listen within a minute:\n%s", s.log())
	}
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logs, "\n")
}

// kill sends SIGKILL and waits for the process to end.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// crashLoad sends events from several clients until it kills the server
// at a random moment after the first acknowledgements, and returns the
// object ids of every event acknowledged.
func crashLoad(t *testing.T, srv *server, token string, round int) []string {
	t.Helper()
	var (
		mu      sync.Mutex
		acked   []string
		killed  = make(chan struct{})
		firstOK = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for c := range crashClients {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-killed:
					return
				default:
				}
				ids, body := crashBatchBody(round, c, n)
				req, _ := http.NewRequest(http.MethodPost, srv.url+ingest.EventsPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					select {
					case <-killed: // the server is gone: expected
						return
					default:
						t.Errorf("client %d: %v", c, err)
						return
					}
				}
				var r ingest.Reply
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil || r.Accepted != len(ids) {
					select {
					case <-killed:
						return // cut off mid-answer: not acknowledged
					default:
						t.Errorf("client %d: %d %+v %v", c, resp.StatusCode, r, err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
				once.Do(func() { close(firstOK) })
			}
		})
	}
	select {
	case <-firstOK:
	case <-time.After(30 * time.Second):
		t.Errorf("round %d: no acknowledgement within 30 s\n%s", round, srv.log())
	}
	time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
	close(killed)
	srv.kill(t)
	wg.Wait()
	return acked
}

// crashBatchBody is one request of client c: crashBatch events, each with
// a unique object id, by a user of its own. The first of each is a
// break-glass access, which the detection engine must raise one alert for
// (a user's accesses within an hour would be one alert).
func crashBatchBody(round, c, n int) ([]string, string) {
	ids := make([]string, crashBatch)
	var b strings.Builder
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d-c%d-b%d-%d", round, c, n, i)
		action := "view"
		if i == 0 {
			action = "emergency_access"
		}
		fmt.Fprintf(&b, `{"time":"%s","source":"%s","actor":{"id":"u%d-%d-%d"},"action":"%s","patient":{"id":"P%06d"},"object":{"type":"record","id":"%s"}}`+"\n",
			time.Now().UTC().Format(time.RFC3339Nano), crashSource, round, c, n, action, i, ids[i])
	}
	return ids, b.String()
}

// breakGlassRule is the id of the medical pack's break-glass rule.
const breakGlassRule = "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02"

// checkAlerts lets the detection engine finish the log, as the next start
// would, and checks that every stored break-glass access has exactly one
// alert: the alerts the killed server wrote are kept and none is raised
// again.
func checkAlerts(t *testing.T, a *app.App, objectOf map[int64]string, acked map[string]bool, round int) {
	t.Helper()
	ctx := context.Background()
	for {
		n, err := a.Detect.Process(ctx)
		if err != nil {
			t.Fatalf("round %d: detection after the kill: %v", round, err)
		}
		if n == 0 {
			break
		}
	}
	alerts, err := detect.Alerts(ctx, a.DB, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	alerted := map[string]int{}
	for _, al := range alerts {
		if al.RuleID == breakGlassRule {
			alerted[objectOf[al.FirstSeq]]++
		}
	}
	stored := 0
	for seq, id := range objectOf {
		if !strings.HasSuffix(id, "-0") {
			continue
		}
		stored++
		if n := alerted[id]; n != 1 {
			t.Errorf("round %d: the break-glass access %s (event %d) has %d alerts", round, id, seq, n)
		}
	}
	for id := range acked {
		if strings.HasSuffix(id, "-0") && alerted[id] == 0 {
			t.Errorf("round %d: the acknowledged break-glass access %s raised no alert", round, id)
		}
	}
	if len(alerted) != stored {
		t.Errorf("round %d: %d break-glass alerts for %d stored accesses", round, len(alerted), stored)
	}
}

// checkLog opens the data directory as anzen does at start, and checks
// that every acknowledged event is in the log and that the log verifies.
func checkLog(t *testing.T, c *cliEnv, acked map[string]bool, round int) {
	t.Helper()
	ctx := context.Background()
	cfg, err := c.g.load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatalf("round %d: open after the kill: %v", round, err)
	}
	defer a.Close()
	found := map[string]int{}
	objectOf := map[int64]string{}
	for after := int64(-1); ; {
		evs, err := a.Audit.ReadAfter(ctx, after, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Source == crashSource {
				found[e.Object.ID]++
				objectOf[e.Seq] = e.Object.ID
			}
		}
		after = evs[len(evs)-1].Seq
	}
	missing := 0
	for id := range acked {
		if found[id] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("round %d: acknowledged event %s is not in the log", round, id)
			}
		}
	}
	for id, n := range found {
		if n > 1 {
			t.Errorf("round %d: event %s is in the log %d times", round, id, n)
		}
	}
	res, err := a.Audit.Verify(ctx, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Errorf("round %d: verify: first bad %d (%s): %s", round, res.FirstBad, res.Kind, res.Problem)
	}
	t.Logf("round %d: %d events acknowledged so far, %d stored (%d beyond the acknowledged ones), %d checkpoints, verified in %v",
		round, len(acked), len(found), len(found)-len(acked)+missing, res.Checkpoints, res.Duration.Round(time.Millisecond))
	if missing > 0 {
		t.Fatalf("round %d: %d acknowledged events lost", round, missing)
	}
	checkAlerts(t, a, objectOf, acked, round)
}
