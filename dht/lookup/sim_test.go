package lookup

import (
	"container/heap"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"
)

// A fake network topology: nodes with random ids, each with a Kademlia
// routing table (up to 8 random nodes per bucket), some silent, each with a
// fixed RTT. Lookups run against it in virtual time, driven exactly like the
// real driver drives them: soft timeout -> OnStalled, hard -> OnTimeout.

// simSeeds is how many nodes of its table a lookup starts from, as in the driver.
const simSeeds = 24

type simNode struct {
	Node
	silent bool
	rtt    time.Duration
	table  []Node
}

type simNet struct {
	nodes  []*simNode
	byAddr map[netip.AddrPort]*simNode
	loss   float64
	rng    *rand.Rand
}

type simConfig struct {
	n              int
	silent, loss   float64
	minRTT, maxRTT time.Duration
	bucket         int // routing table bucket size; 0: 8
	fullMesh       bool
	seed           uint64
	soft, hard     time.Duration
	lookup         Config
}

func newSimNet(c simConfig) *simNet {
	rng := rand.New(rand.NewPCG(c.seed, 1))
	s := &simNet{byAddr: map[netip.AddrPort]*simNode{}, loss: c.loss, rng: rng}
	for i := range c.n {
		var id [20]byte
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), 6881)
		rtt := c.minRTT + time.Duration(rng.Int64N(int64(c.maxRTT-c.minRTT)+1))
		sn := &simNode{Node: Node{ID: id, Addr: addr}, silent: rng.Float64() < c.silent, rtt: rtt}
		s.nodes = append(s.nodes, sn)
		s.byAddr[addr] = sn
	}
	bucket := c.bucket
	if bucket == 0 {
		bucket = 8
	}
	for _, a := range s.nodes {
		buckets := map[int][]Node{}
		for _, p := range rng.Perm(len(s.nodes)) {
			b := s.nodes[p]
			if b == a {
				continue
			}
			cpl := commonPrefix(a.ID, b.ID)
			if c.fullMesh || len(buckets[cpl]) < bucket {
				buckets[cpl] = append(buckets[cpl], b.Node)
			}
		}
		for _, ns := range buckets {
			a.table = append(a.table, ns...)
		}
	}
	return s
}

func commonPrefix(a, b [20]byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			n := i * 8
			for x&0x80 == 0 {
				x <<= 1
				n++
			}
			return n
		}
	}
	return 160
}

func closestOf(nodes []Node, target [20]byte, k int) []Node {
	nodes = slices.Clone(nodes)
	sort.Slice(nodes, func(i, j int) bool {
		return compare(Distance(nodes[i].ID, target), Distance(nodes[j].ID, target)) < 0
	})
	return nodes[:min(k, len(nodes))]
}

type simEvent struct {
	at   time.Duration
	kind int // 0 response, 1 stall, 2 timeout
	node *simNode
	seq  int
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// run performs one lookup from origin for target and returns the lookup and
// the virtual time it took.
func (s *simNet) run(t *testing.T, c simConfig, origin *simNode, target [20]byte) (*Lookup, time.Duration) {
	cfg := c.lookup
	cfg.Target, cfg.Self = target, origin.ID
	l, err := New(cfg, closestOf(origin.table, target, simSeeds))
	if err != nil {
		t.Fatal(err)
	}
	var q eventQueue
	seq := 0
	push := func(at time.Duration, kind int, n *simNode) {
		seq++
		heap.Push(&q, simEvent{at: at, kind: kind, node: n, seq: seq})
	}
	var now time.Duration
	send := func(ns []Node) {
		for _, n := range ns {
			sn := s.byAddr[n.Addr]
			lost := s.rng.Float64() < s.loss || s.rng.Float64() < s.loss
			if sn.silent || lost {
				push(now+c.hard, 2, sn)
			} else {
				push(now+sn.rtt, 0, sn)
			}
			if c.soft < c.hard {
				push(now+c.soft, 1, sn)
			}
		}
	}
	send(l.Next())
	for !l.Done() && q.Len() > 0 {
		ev := heap.Pop(&q).(simEvent)
		now = ev.at
		switch ev.kind {
		case 0:
			l.OnResponse(ev.node.Addr, ev.node.ID, closestOf(ev.node.table, target, 8))
		case 1:
			l.OnStalled(ev.node.Addr)
		case 2:
			l.OnTimeout(ev.node.Addr)
		}
		send(l.Next())
	}
	if !l.Done() {
		t.Fatalf("lookup not done with no event left")
	}
	return l, now
}

func randomID(rng *rand.Rand) [20]byte {
	var id [20]byte
	for j := range id {
		id[j] = byte(rng.Uint32())
	}
	return id
}

// simulate runs lookups for random targets and returns the mean overlap of
// Closest with the true K closest live nodes, the sorted durations and the
// mean number of queries.
func simulate(t *testing.T, c simConfig, lookups int) (overlap float64, times []time.Duration, queries float64) {
	s := newSimNet(c)
	var live []Node
	for _, n := range s.nodes {
		if !n.silent {
			live = append(live, n.Node)
		}
	}
	k := c.lookup.K
	if k == 0 {
		k = DefaultK
	}
	for range lookups {
		origin := s.nodes[s.rng.IntN(len(s.nodes))]
		for origin.silent {
			origin = s.nodes[s.rng.IntN(len(s.nodes))]
		}
		target := randomID(s.rng)
		l, d := s.run(t, c, origin, target)
		others := slices.DeleteFunc(slices.Clone(live), func(n Node) bool { return n == origin.Node })
		want := closestOf(others, target, k)
		for _, n := range l.Closest() {
			if slices.Contains(want, n) {
				overlap++
			}
		}
		times = append(times, d)
		queries += float64(l.Stats().Queries)
	}
	slices.Sort(times)
	return overlap / float64(lookups), times, queries / float64(lookups)
}

func TestSimulatedNetwork(t *testing.T) {
	c := simConfig{
		n: 2000, silent: 0.2, loss: 0.01, minRTT: 40 * time.Millisecond, maxRTT: 300 * time.Millisecond,
		seed: 7, soft: 400 * time.Millisecond, hard: 2 * time.Second,
	}
	overlap, times, queries := simulate(t, c, 200)
	p50, p95 := times[len(times)/2], times[len(times)*95/100]
	t.Logf("2000 nodes, 20%% silent: overlap %.2f/8, p50 %v, p95 %v, %.1f queries", overlap, p50, p95, queries)
	if overlap < 7 {
		t.Errorf("lookups found %.2f of the 8 closest live nodes on average, want >= 7", overlap)
	}
	// Virtual time is deterministic: a lookup that needs more than ten
	// hard timeouts is broken, whatever the machine.
	if times[len(times)-1] > 10*c.hard {
		t.Errorf("slowest lookup took %v of virtual time", times[len(times)-1])
	}
}

// With every node knowing every other, the first answers name the true K
// closest and the lookup ends after two round trips.
func TestConvergesInFewRounds(t *testing.T) {
	c := simConfig{
		n: 64, minRTT: 100 * time.Millisecond, maxRTT: 100 * time.Millisecond, fullMesh: true,
		seed: 3, soft: time.Second, hard: 2 * time.Second,
	}
	overlap, times, queries := simulate(t, c, 50)
	if overlap != 8 {
		t.Errorf("overlap %.2f, want the exact 8 closest", overlap)
	}
	if last := times[len(times)-1]; last > 4*100*time.Millisecond {
		t.Errorf("slowest lookup took %v, want <= 4 round trips", last)
	}
	if queries > DefaultAlpha+DefaultK+3 {
		t.Errorf("%.1f queries per lookup, want <= alpha+k+3", queries)
	}
	t.Logf("full mesh: %v per lookup, %.1f queries", times[len(times)/2], queries)
}

// Without soft timeouts (soft == hard), silent nodes among the closest make a
// lookup wait for their hard timeout; with them it does not.
func TestSoftTimeoutSpeedsUp(t *testing.T) {
	base := simConfig{
		n: 500, silent: 0.2, minRTT: 40 * time.Millisecond, maxRTT: 300 * time.Millisecond,
		seed: 11, hard: 2 * time.Second,
	}
	slow, fast := base, base
	slow.soft = base.hard
	fast.soft = 400 * time.Millisecond
	ovSlow, tSlow, _ := simulate(t, slow, 100)
	ovFast, tFast, _ := simulate(t, fast, 100)
	t.Logf("no soft timeout: p50 %v overlap %.2f; soft 400ms: p50 %v overlap %.2f", tSlow[50], ovSlow, tFast[50], ovFast)
	if tFast[50] >= tSlow[50] {
		t.Errorf("soft timeout did not speed up the median lookup: %v vs %v", tFast[50], tSlow[50])
	}
	if ovFast < 7 {
		t.Errorf("soft timeout lost correctness: overlap %.2f", ovFast)
	}
}
