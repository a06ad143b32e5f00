package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRandomWriterKeepsInvariants drives a journaled writer through long
// random runs — writes, requests, another writer publishing, every step's
// answer chosen at random (success, failure, conflict, split, slow) — and
// checks after each step:
//   - a Save, when present, comes first; the held seq never decreases;
//   - at most one publish step (Prepare, publish Put, ReadBack, Confirm) is
//     out, and none while a Rebase is out, nor a Rebase while one is;
//   - a Prepare asks for the held seq + 1, a publish Put puts the pending
//     item saved before it;
//   - a Rebase names a version that was fetched;
//   - every PublishRequest is answered at most once, and all are answered
//     once the run settles.
func TestRandomWriterKeepsInvariants(t *testing.T) {
	published := 0
	for seed := range uint64(150) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { published += randomWriterRun(t, seed) })
	}
	if published == 0 {
		t.Error("no random run published anything")
	}
}

type writerRun struct {
	t   *testing.T
	rng *rand.Rand
	e   *Engine
	now time.Time

	out       []Action // actions not answered yet
	fetched   map[Hash]bool
	answered  map[uint64]bool
	asked     map[uint64]bool
	other     int // the other writer's newest seq
	published int
	lastSeq   int64
}

func randomWriterRun(t *testing.T, seed uint64) int {
	rng := rand.New(rand.NewPCG(seed, 7))
	e, err := New(Config{Mode: WriteJournaled, PollInterval: time.Minute, RetryInterval: 10 * time.Second,
		PublishAttempts: 4, Rand: rand.New(rand.NewPCG(seed, 1))}, Persisted{})
	if err != nil {
		t.Fatal(err)
	}
	r := &writerRun{t: t, rng: rng, e: e, now: time.Unix(5000, 0), fetched: map[Hash]bool{},
		answered: map[uint64]bool{}, asked: map[uint64]bool{}}
	r.apply(e.Tick(r.now))
	for i := range 400 {
		switch x := rng.IntN(10); {
		case x < 2:
			r.apply(e.Step(r.now, Wrote{}))
		case x < 3:
			id := uint64(i + 1)
			r.asked[id] = true
			r.apply(e.Step(r.now, PublishRequest{ID: id}))
		case x < 4:
			r.now = r.now.Add(time.Duration(rng.IntN(40)) * time.Second)
			r.apply(e.Tick(r.now))
		default:
			r.answerOne(false)
		}
	}
	// Settle: answer everything favourably until quiet.
	for range 2000 {
		if len(r.out) == 0 {
			r.now = r.now.Add(time.Minute)
			r.apply(e.Tick(r.now))
			if len(r.out) == 0 {
				break
			}
		}
		r.answerOne(true)
	}
	for id := range r.asked {
		if !r.answered[id] {
			t.Errorf("request %d never answered", id)
		}
	}
	return r.published
}

// pointerOf names version "w<seq>" (ours) or "o<seq>" (the other writer's).
func pointerOf(who string, seq int64) (Pointer, []byte) {
	return Pointer{IH: h(fmt.Sprintf("%s%d", who, seq))}, []byte(fmt.Sprintf("%s-item%d", who, seq))
}

func (r *writerRun) answerOne(favourable bool) {
	if len(r.out) == 0 {
		return
	}
	i := r.rng.IntN(len(r.out))
	if favourable {
		i = 0
	}
	a := r.out[i]
	r.out = append(r.out[:i], r.out[i+1:]...)
	bad := !favourable && r.rng.IntN(3) == 0
	e := r.e
	switch a := a.(type) {
	case Poll:
		if !favourable && r.rng.IntN(4) == 0 {
			r.other = int(max(e.State().Seq, int64(r.other))) + 1
		}
		if int64(r.other) > e.State().Seq {
			p, item := pointerOf("o", int64(r.other))
			r.apply(e.Step(r.now, PollResult{Seq: int64(r.other), Pointer: p, Item: item, Found: 8}))
		} else {
			r.apply(e.Step(r.now, PollNotFound{}))
		}
	case Fetch:
		if bad {
			r.apply(e.Step(r.now, FetchFailed{IH: a.IH, Err: errors.New("no peers")}))
			return
		}
		r.fetched[a.IH] = true
		r.apply(e.Step(r.now, FetchDone{IH: a.IH}))
	case Rebase:
		if bad {
			r.apply(e.Step(r.now, RebaseFailed{IH: a.IH, Err: errors.New("disk")}))
			return
		}
		r.apply(e.Step(r.now, RebaseDone{IH: a.IH, Unpublished: r.rng.IntN(2)}))
	case Prepare:
		switch {
		case bad:
			r.apply(e.Step(r.now, PrepareFailed{Err: errors.New("snapshot")}))
		case !favourable && r.rng.IntN(4) == 0:
			r.apply(e.Step(r.now, Prepared{Seq: a.Seq, Unchanged: true}))
		default:
			p, item := pointerOf("w", a.Seq)
			r.apply(e.Step(r.now, Prepared{Seq: a.Seq, Pointer: p, Item: item}))
		}
	case Put:
		if !a.Publish {
			r.apply(e.Step(r.now, PutDone{Seq: a.Seq, Stored: 8}))
			return
		}
		switch {
		case int64(r.other) >= a.Seq:
			r.apply(e.Step(r.now, PutDone{Seq: a.Seq, Publish: true, Conflict: true}))
		case bad:
			r.apply(e.Step(r.now, PutDone{Seq: a.Seq, Publish: true, Err: errors.New("timeouts")}))
		default:
			r.published++
			r.apply(e.Step(r.now, PutDone{Seq: a.Seq, Publish: true, Stored: 8}))
		}
	case ReadBack:
		st := e.State()
		switch {
		case bad:
			r.apply(e.Step(r.now, ReadBackFailed{Err: errors.New("timeout")}))
		case int64(r.other) > st.Seq || (!favourable && r.rng.IntN(5) == 0 && st.Seq > 0):
			seq := max(int64(r.other), st.Seq)
			r.other = int(seq)
			p, item := pointerOf("o", seq)
			r.apply(e.Step(r.now, ReadBackResult{Seq: seq, Pointer: p, Item: item, Found: 8}))
		case st.Item != nil:
			r.apply(e.Step(r.now, ReadBackResult{Seq: st.Seq, Pointer: st.Pointer, Item: st.Item, Found: 8}))
		default:
			r.apply(e.Step(r.now, ReadBackNotFound{}))
		}
	case Confirm:
		if bad {
			r.apply(e.Step(r.now, ConfirmFailed{Seq: a.Seq, Err: errors.New("disk")}))
			return
		}
		r.apply(e.Step(r.now, ConfirmDone{Seq: a.Seq}))
	}
}

// apply checks the actions of one call and queues those that want an answer.
func (r *writerRun) apply(acts []Action) {
	t := r.t
	for i, a := range acts {
		switch a := a.(type) {
		case Save:
			if i != 0 {
				t.Fatalf("save at position %d", i)
			}
			if a.State.Seq < r.lastSeq {
				t.Fatalf("held seq went back from %d to %d", r.lastSeq, a.State.Seq)
			}
			r.lastSeq = a.State.Seq
		case Prepare:
			if want := r.e.State().Seq + 1; a.Seq != want {
				t.Fatalf("prepare seq %d, want %d", a.Seq, want)
			}
		case Put:
			if a.Publish {
				p := r.e.State().Pending
				if p == nil || p.Seq != a.Seq || string(p.Item) != string(a.Item) {
					t.Fatalf("publish put seq %d without that pending item (%+v)", a.Seq, p)
				}
			}
		case Rebase:
			if !r.fetched[a.IH] {
				t.Fatalf("rebase onto %s, never fetched", name(a.IH))
			}
		case PublishDone:
			for _, id := range a.IDs {
				if r.answered[id] {
					t.Fatalf("request %d answered twice", id)
				}
				r.answered[id] = true
			}
		}
		switch a.(type) {
		case Poll, Fetch, Rebase, Prepare, Put, ReadBack, Confirm:
			r.out = append(r.out, a)
		case Cancel:
			c := a.(Cancel)
			for j := 0; j < len(r.out); j++ {
				if f, ok := r.out[j].(Fetch); ok && f.IH == c.IH {
					r.out = append(r.out[:j], r.out[j+1:]...)
					j--
				}
			}
		}
	}
	steps, rebases := 0, 0
	for _, a := range r.out {
		switch a := a.(type) {
		case Prepare, ReadBack, Confirm:
			steps++
		case Put:
			if a.Publish {
				steps++
			}
		case Rebase:
			rebases++
		}
	}
	if steps > 1 || rebases > 1 || (steps > 0 && rebases > 0) {
		t.Fatalf("%d publish steps and %d rebases out at once: %v", steps, rebases, r.out)
	}
}
