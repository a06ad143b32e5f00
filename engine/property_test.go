package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/record"
)

// TestRandomEventsKeepInvariants feeds long random sequences of events — new
// and replayed pointers, fetch outcomes in any order, installs, puts, time —
// and checks after each step the rules that must always hold:
//   - the held seq never decreases; the local version never moves back;
//   - a Save, when present, comes first;
//   - at most one Install is outstanding, and only of a fetched version;
//   - no Fetch names a version not newer than the local one.
func TestRandomEventsKeepInvariants(t *testing.T) {
	var total runStats
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := randomRun(t, seed)
			total.installs += s.installs
			total.fallbacks += s.fallbacks
			total.replays += s.replays
		})
	}
	t.Logf("%d installs, %d fallbacks, %d replays refused", total.installs, total.fallbacks, total.replays)
	if total.installs == 0 || total.fallbacks == 0 || total.replays == 0 {
		t.Errorf("the random runs did not exercise installs, fallbacks and replays: %+v", total)
	}
}

type runStats struct{ installs, fallbacks, replays int }

// version i of the writer's chain; index order is publication order.
func version(i int) Hash { return h(fmt.Sprintf("v%d", i)) }

func indexOf(x Hash) int {
	var i int
	if _, err := fmt.Sscanf(name(x), "v%d", &i); err != nil {
		return -1
	}
	return i
}

// pointerAt is the record the writer published at seq s: version s, and
// the four before it.
func pointerAt(s int) Pointer {
	p := Pointer{IH: version(s)}
	for i := s - 1; i >= 1 && len(p.Prev) < record.MaxPrev; i-- {
		p.Prev = append(p.Prev, version(i))
	}
	return p
}

func randomRun(t *testing.T, seed uint64) (stats runStats) {
	rng := rand.New(rand.NewPCG(seed, 99))
	f, err := New(Config{PollInterval: time.Minute, FetchTimeout: time.Minute, RetryInterval: 10 * time.Second,
		Rand: rand.New(rand.NewPCG(seed, 1))}, Persisted{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	latest := 0                     // the writer's newest seq
	fetching := map[Hash]bool{}     // fetches asked for and not answered
	fetched := map[Hash]bool{}      // fetches reported done
	var installing *Hash            // the outstanding Install
	lastSeq, lastCur := int64(0), 0 // for monotonicity
	for step := range 300 {
		var ev Event
		switch r := rng.IntN(10); {
		case r < 2:
			if rng.IntN(3) == 0 {
				latest++
			}
			s := latest
			if s > 0 && rng.IntN(4) == 0 {
				s = 1 + rng.IntN(s) // a replay of an older pointer
			}
			if s == 0 {
				ev = PollNotFound{}
			} else {
				ev = PollResult{Seq: int64(s), Pointer: pointerAt(s), Item: []byte(fmt.Sprint("item", s)), Found: rng.IntN(10)}
			}
		case r < 4 && len(fetching) > 0:
			ih := pick(rng, fetching)
			delete(fetching, ih)
			switch rng.IntN(4) {
			case 0:
				ev = FetchFailed{IH: ih, Err: errors.New("no peers")}
			case 1:
				ev = FetchTimedOut{IH: ih}
				fetching[ih] = true // still running
			default:
				fetched[ih] = true
				ev = FetchDone{IH: ih}
			}
		case r < 6 && installing != nil:
			if rng.IntN(5) == 0 {
				ev = InstallFailed{IH: *installing, Err: errors.New("not a database")}
			} else {
				ev = InstallDone{IH: *installing}
			}
			installing = nil
		case r < 7:
			ev = PutDone{Seq: int64(latest), Stored: rng.IntN(9)}
		}
		var acts []Action
		if ev == nil {
			now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
			acts = f.Tick(now)
		} else {
			acts = f.Step(now, ev)
		}
		st := f.State()
		cur := 0
		if st.HasCurrent {
			cur = indexOf(st.Current)
		}
		for i, a := range acts {
			switch a := a.(type) {
			case Save:
				if i != 0 {
					t.Fatalf("step %d: Save at position %d", step, i)
				}
			case Fetch:
				if indexOf(a.IH) <= cur {
					t.Fatalf("step %d: fetch of %s, not newer than the local %d", step, name(a.IH), cur)
				}
				fetching[a.IH] = true
			case Cancel:
				delete(fetching, a.IH)
			case Install:
				if installing != nil {
					t.Fatalf("step %d: second install %s while %s is out", step, name(a.IH), name(*installing))
				}
				if !fetched[a.IH] {
					t.Fatalf("step %d: install of %s, never fetched", step, name(a.IH))
				}
				ih := a.IH
				installing = &ih
				stats.installs++
			case Notice:
				switch a.Kind {
				case NoticeFallback:
					stats.fallbacks++
				case NoticeReplay:
					stats.replays++
				}
			}
		}
		if st.Seq < lastSeq {
			t.Fatalf("step %d: seq went back from %d to %d", step, lastSeq, st.Seq)
		}
		if cur < lastCur {
			t.Fatalf("step %d: local version went back from v%d to v%d", step, lastCur, cur)
		}
		lastSeq, lastCur = st.Seq, cur
	}
	return stats
}

func pick(rng *rand.Rand, m map[Hash]bool) Hash {
	keys := make([]Hash, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// map order is random; sort for a reproducible run
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && string(keys[j][:]) < string(keys[j-1][:]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys[rng.IntN(len(keys))]
}
