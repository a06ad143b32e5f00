package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPollJitter checks that poll delays spread over interval·(1±jitter) and
// are reproducible from the injected random source.
func TestPollJitter(t *testing.T) {
	delays := func(seed uint64) []time.Duration {
		f, err := New(Config{PollInterval: time.Minute, PollJitter: 0.2, Rand: rand.New(rand.NewPCG(seed, 0))}, Persisted{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		var out []time.Duration
		for range 50 {
			acts := f.Tick(now)
			if len(acts) != 1 {
				t.Fatalf("tick at %v: %d actions, want one poll", now, len(acts))
			}
			f.Step(now, PollNotFound{})
			next, ok := f.NextWake()
			if !ok {
				t.Fatal("no wake-up scheduled after a poll")
			}
			out = append(out, next.Sub(now))
			now = next
		}
		return out
	}
	a, b := delays(7), delays(7)
	distinct := map[time.Duration]bool{}
	for i, d := range a {
		if d < 48*time.Second || d > 72*time.Second {
			t.Errorf("delay %v outside 48s..72s", d)
		}
		if d != b[i] {
			t.Errorf("delay %d: %v and %v from the same seed", i, d, b[i])
		}
		distinct[d] = true
	}
	if len(distinct) < 10 {
		t.Errorf("only %d distinct delays in 50: no jitter", len(distinct))
	}
}

// TestRestartResumes checks that an Engine rebuilt from its saved state
// re-puts the held item and resumes the pending fetch at once.
func TestRestartResumes(t *testing.T) {
	now := time.Unix(100, 0)
	f, err := New(Config{NoJitter: true}, Persisted{})
	if err != nil {
		t.Fatal(err)
	}
	f.Tick(now)
	var saved Persisted
	for _, a := range f.Step(now, PollResult{Seq: 4, Pointer: Pointer{IH: h("B"), Prev: []Hash{h("A")}}, Item: []byte("signed"), Found: 8}) {
		if s, ok := a.(Save); ok {
			saved = s.State
		}
	}
	if saved.Seq != 4 || string(saved.Item) != "signed" {
		t.Fatalf("saved %+v, want seq 4 with the item", saved)
	}
	g, err := New(Config{NoJitter: true}, saved)
	if err != nil {
		t.Fatal(err)
	}
	var put, poll, fetch bool
	for _, a := range g.Tick(now.Add(time.Second)) {
		switch a := a.(type) {
		case Put:
			put = a.Seq == 4 && string(a.Item) == "signed"
		case Poll:
			poll = a.MinSeq == 4
		case Fetch:
			fetch = a.IH == h("B") && !a.HasBase
		}
	}
	if !put || !poll || !fetch {
		t.Errorf("after restart: put %v poll %v fetch %v, want all", put, poll, fetch)
	}
}
