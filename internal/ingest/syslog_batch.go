package ingest

import (
	"errors"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// chunk is what one connection hands over at once: prepared events of one
// listener, and the bytes of the budget they hold.
type chunk struct {
	l      *listener
	events []audit.Event
	bytes  int
}

// batch is one append: the events of several chunks.
type batch struct {
	events []audit.Event
	bytes  int
	counts []listenerCount // events per listener in order, to count them accepted
}

type listenerCount struct {
	l *listener
	n int64
}

func (b *batch) add(c chunk) {
	b.events = append(b.events, c.events...)
	b.bytes += c.bytes
	if n := len(b.counts); n > 0 && b.counts[n-1].l == c.l {
		b.counts[n-1].n += int64(len(c.events))
		return
	}
	b.counts = append(b.counts, listenerCount{c.l, int64(len(c.events))})
}

func (b *batch) full() bool { return len(b.events) >= batchEvents || b.bytes >= batchBytes }

// batch gathers chunks into batches: a batch goes to the committers when it
// is full or Linger after its first event, and the last one when the
// connections are done.
func (s *Syslog) batch() {
	defer s.consumers.Done()
	defer close(s.commits)
	var b batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	waiting := false
	flush := func() {
		if waiting {
			timer.Stop()
			waiting = false
		}
		if len(b.events) > 0 {
			s.commits <- b
			b = batch{}
		}
	}
	for {
		select {
		case c, ok := <-s.in:
			if !ok {
				flush()
				return
			}
			b.add(c)
			if b.full() {
				flush()
			} else if !waiting {
				timer.Reset(s.cfg.Linger)
				waiting = true
			}
		case <-timer.C:
			waiting = false
			flush()
		}
	}
}

// commit appends batches. When the log cannot be written to, it tries again
// (holding the batch, so that the listeners stop reading once the budget is
// spent) until it can, or until Stop gives up.
func (s *Syslog) commit() {
	defer s.consumers.Done()
	for b := range s.commits {
		wait := 100 * time.Millisecond
		for {
			_, err := s.sink.Append(s.commitCtx, b.events)
			if err == nil {
				for _, c := range b.counts {
					c.l.accepted.Add(c.n)
				}
				break
			}
			if errors.Is(err, audit.ErrInvalid) {
				// Prepared events are valid; should one not be, the others
				// must not wait for it forever.
				s.appendEach(b)
				break
			}
			if s.commitCtx.Err() != nil {
				for _, c := range b.counts {
					c.l.lost.Add(c.n)
				}
				s.log.Error("syslog: messages read but not stored: the audit log could not be written to before shutdown",
					"events", len(b.events), "err", err)
				break
			}
			s.log.Error("syslog: append to the audit log failed; trying again", "events", len(b.events),
				"retry_in", wait.String(), "err", err)
			select {
			case <-time.After(wait):
			case <-s.commitCtx.Done():
			}
			wait = min(2*wait, 5*time.Second)
		}
		s.budget.release(b.bytes)
	}
}

// appendEach appends the events of b one at a time, counting those the log
// refuses as rejected.
func (s *Syslog) appendEach(b batch) {
	i := 0
	for _, c := range b.counts {
		for range c.n {
			if _, err := s.sink.Append(s.commitCtx, b.events[i:i+1]); err != nil {
				c.l.rejected.Add(1)
				s.log.Error("syslog: the audit log refused a prepared event", "err", err)
			} else {
				c.l.accepted.Add(1)
			}
			i++
		}
	}
}

// budget bounds the bytes read and not yet committed.
type budget struct {
	mu      sync.Mutex
	cond    *sync.Cond
	used    int
	max     int
	stopped bool
}

func newBudget(max int) *budget {
	b := &budget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// fits reports whether n more bytes may be held. A message is let in when
// nothing is held, however large; after stop, everything is.
func (b *budget) fits(n int) bool { return b.used == 0 || b.used+n <= b.max || b.stopped }

// tryAcquire takes n bytes when they fit, without waiting.
func (b *budget) tryAcquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.fits(n) {
		return false
	}
	b.used += n
	return true
}

// acquire takes n bytes, waiting until they fit.
func (b *budget) acquire(n int) {
	b.mu.Lock()
	for !b.fits(n) {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

func (b *budget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// stop lets everything in: at shutdown what is read is committed.
func (b *budget) stop() {
	b.mu.Lock()
	b.stopped = true
	b.cond.Broadcast()
	b.mu.Unlock()
}
