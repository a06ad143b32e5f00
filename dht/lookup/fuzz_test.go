package lookup

import (
	"net/netip"
	"slices"
	"testing"
)

// FuzzLookup drives a lookup with events decoded from the input: arbitrary
// (hostile) node reports, answers, errors, stalls and timeouts, including
// for nodes never queried. The state machine must never panic and must keep
// its invariants; once every query is settled it must be done.
func FuzzLookup(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{9, 9, 9, 0, 0, 0, 255, 255, 128, 64, 32, 16, 8, 4, 2, 1})
	f.Add([]byte("a lookup among hostile nodes that keep inventing closer ones"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Nodes come from a small space so that ids and addresses collide.
		node := func(b byte) Node {
			return Node{
				ID:   [20]byte{0: b & 0x3f, 19: b >> 6},
				Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, b % 17}), uint16(b%23)),
			}
		}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		var seeds []Node
		for range next() % 12 {
			seeds = append(seeds, node(next()))
		}
		l, err := New(Config{Target: [20]byte{0: 0x15}, Self: node(7).ID, K: 1 + int(next()%8), Alpha: 1 + int(next()%4), MaxCandidates: int(next() % 20), MaxQueries: 1 + int(next()%40)}, seeds)
		if err != nil {
			t.Fatal(err)
		}
		var inflight []netip.AddrPort
		issue := func() {
			for _, n := range l.Next() {
				if slices.Contains(inflight, n.Addr) {
					t.Fatalf("node %v queried twice", n.Addr)
				}
				inflight = append(inflight, n.Addr)
			}
		}
		issue()
		for len(data) > 0 {
			op, b := next(), next()
			addr := node(b).Addr
			if len(inflight) > 0 && op&0x80 != 0 {
				addr = inflight[int(b)%len(inflight)]
			}
			switch op % 4 {
			case 0:
				var closer []Node
				for range next() % 6 {
					closer = append(closer, node(next()))
				}
				l.OnResponse(addr, node(next()).ID, closer)
			case 1:
				l.OnError(addr)
			case 2:
				l.OnStalled(addr)
			case 3:
				l.OnTimeout(addr)
			}
			inflight = slices.DeleteFunc(inflight, func(a netip.AddrPort) bool { return l.inFlight(a) == nil })
			issue()
			checkInvariants(t, l)
		}
		// Settle everything: the lookup must end.
		for len(inflight) > 0 {
			l.OnTimeout(inflight[0])
			inflight = inflight[1:]
			issue()
		}
		if !l.Done() {
			t.Fatalf("nothing in flight and not done: %+v", l.Stats())
		}
	})
}

func checkInvariants(t *testing.T, l *Lookup) {
	t.Helper()
	waiting, stalled := 0, 0
	for _, e := range l.byAddr {
		switch e.state {
		case stateWaiting:
			waiting++
		case stateStalled:
			stalled++
		}
		if e.node.ID == l.cfg.Self {
			t.Fatalf("our own id tracked: %+v", e.node)
		}
	}
	if waiting != l.waiting || stalled != l.stalled {
		t.Fatalf("counters %d/%d, states %d/%d", l.waiting, l.stalled, waiting, stalled)
	}
	if l.waiting > l.cfg.Alpha || l.queries > l.cfg.MaxQueries || len(l.list) > l.cfg.MaxCandidates {
		t.Fatalf("bounds broken: %+v, %d candidates", l.Stats(), len(l.list))
	}
	for i := 1; i < len(l.list); i++ {
		if compare(l.list[i-1].dist, l.list[i].dist) >= 0 {
			t.Fatalf("candidates not strictly sorted at %d", i)
		}
	}
	closest := l.Closest()
	if len(closest) > l.cfg.K {
		t.Fatalf("%d closest, K = %d", len(closest), l.cfg.K)
	}
	for _, n := range closest {
		if !l.Answered(n.Addr) {
			t.Fatalf("closest node %v has not answered", n.Addr)
		}
	}
}
