package dht

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht/lookup"
	"github.com/dhtdb/dhtdb/krpc"
	"github.com/dhtdb/dhtdb/simnet"
)

// simNet is a network of our nodes on the simulated network: RTT 40-300 ms,
// 1% loss, and a fraction of nodes silenced after the routing tables were
// filled (they left the network; the others still list them).
type simNet struct {
	net    *simnet.Network
	nodes  []*Node
	silent []bool
	live   []int
}

func newSimNet(t testing.TB, n int, silent float64, seed uint64) *simNet {
	t.Helper()
	s := &simNet{net: simnet.New(simnet.Config{
		Seed: int64(seed), MinRTT: 40 * time.Millisecond, MaxRTT: 300 * time.Millisecond, Loss: 0.01,
	})}
	t.Cleanup(func() { s.net.Close() })
	rng := rand.New(rand.NewPCG(seed, 5))
	for i := range n {
		conn, err := s.net.Listen(netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		nd, err := New(Config{Conn: conn, Rand: rand.New(rand.NewPCG(seed, uint64(i))), DisableBackground: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		s.nodes = append(s.nodes, nd)
	}
	// A table that has been in the network a while: up to 8 random nodes
	// per length of shared id prefix.
	for _, a := range s.nodes {
		per := map[int]int{}
		for _, j := range rng.Perm(n) {
			b := s.nodes[j]
			if p := commonPrefix(a.ID(), b.ID()); b != a && per[p] < K {
				per[p]++
				a.nodeAnswered(b.ID(), b.Addr())
			}
		}
	}
	s.silent = make([]bool, n)
	for _, i := range rng.Perm(n)[:int(silent*float64(n))] {
		s.silent[i] = true
		s.net.SetSilent(s.nodes[i].Addr(), true)
	}
	for i := range s.nodes {
		if !s.silent[i] {
			s.live = append(s.live, i)
		}
	}
	return s
}

// closestLive returns the k live nodes closest to target, but not origin.
func (s *simNet) closestLive(target [20]byte, origin *Node, k int) []*Node {
	var out []*Node
	for _, i := range s.live {
		if s.nodes[i] != origin {
			out = append(out, s.nodes[i])
		}
	}
	slices.SortFunc(out, func(a, b *Node) int {
		da, db := lookup.Distance(a.ID(), target), lookup.Distance(b.ID(), target)
		return bytes.Compare(da[:], db[:])
	})
	return out[:k]
}

// holds asks node at addr, from prober, whether it holds target at seq (a
// get query, retried against loss).
func holds(ctx context.Context, prober *Node, addr netip.AddrPort, target [20]byte, seq int64) bool {
	for range 3 {
		m, err := prober.query(ctx, addr, krpc.MethodGet, &krpc.Args{Target: target, HasTarget: true})
		if err == nil {
			return m.R.V != nil && m.R.HasSeq && m.R.Seq == seq
		}
	}
	return false
}

type simOutcome struct {
	putDur, getDur []time.Duration
	putOK, getOK   int
	stored         int // of the 8 closest live nodes, over all puts
	putMsgs        int
	getMsgs        int
}

// runSimOps puts ops mutable items from random live nodes, in parallel, then
// gets each from another random live node.
func runSimOps(t testing.TB, s *simNet, ops int, seed uint64) simOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, 9))
	type op struct {
		it             bep44.Item
		putter, getter *Node
	}
	var list []op
	for i := range ops {
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i), byte(seed)}, 16))
		it, err := bep44.NewMutable(priv, []byte("db"), int64(i+1), []byte(fmt.Sprintf("i%de", i)))
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, op{it, s.nodes[s.live[rng.IntN(len(s.live))]], s.nodes[s.live[rng.IntN(len(s.live))]]})
	}
	var mu sync.Mutex
	var out simOutcome
	var wg sync.WaitGroup
	for _, o := range list {
		wg.Go(func() {
			start := time.Now()
			rep, err := o.putter.Put(ctx, o.it, PutOptions{})
			d := time.Since(start)
			stored := 0
			for _, nd := range s.closestLive(o.it.Target(), o.putter, K) {
				if holds(ctx, o.putter, nd.Addr(), o.it.Target(), o.it.Seq) {
					stored++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			out.putDur = append(out.putDur, d)
			out.putMsgs += rep.Msgs
			out.stored += stored
			if err == nil {
				out.putOK++
			}
		})
	}
	wg.Wait()
	for _, o := range list {
		wg.Go(func() {
			start := time.Now()
			res, err := o.getter.Get(ctx, GetRequest{PublicKey: o.it.K[:], Salt: o.it.Salt})
			d := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			out.getDur = append(out.getDur, d)
			out.getMsgs += res.Msgs
			if err == nil && res.Item.Seq == o.it.Seq && bytes.Equal(res.Item.V, o.it.V) {
				out.getOK++
			}
		})
	}
	wg.Wait()
	slices.Sort(out.putDur)
	slices.Sort(out.getDur)
	return out
}

func (o simOutcome) String() string {
	n := len(o.getDur)
	q := func(d []time.Duration, p int) time.Duration {
		return d[min(len(d)-1, len(d)*p/100)].Round(time.Millisecond)
	}
	return fmt.Sprintf("put p50 %v p95 %v ok %d/%d stored %.2f/8 msgs %.1f; get p50 %v p95 %v ok %d/%d msgs %.1f",
		q(o.putDur, 50), q(o.putDur, 95), o.putOK, n, float64(o.stored)/float64(n), float64(o.putMsgs)/float64(n),
		q(o.getDur, 50), q(o.getDur, 95), o.getOK, n, float64(o.getMsgs)/float64(n))
}

// TestSimnetGetPut: 500 nodes, 20% silent, 1% loss. Puts succeed and land
// on (nearly) all of the 8 closest live nodes; gets find what was put.
func TestSimnetGetPut(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated network of 500 nodes")
	}
	s := newSimNet(t, 500, 0.2, 1)
	const ops = 20
	o := runSimOps(t, s, ops, 1)
	t.Log(o)
	if o.putOK < ops-2 || o.getOK < ops-2 {
		t.Errorf("puts ok %d, gets ok %d, of %d", o.putOK, o.getOK, ops)
	}
	if mean := float64(o.stored) / ops; mean < 6 {
		t.Errorf("puts stored on %.2f of the 8 closest live nodes on average, want >= 6", mean)
	}

	// A repeated get of the same target (a poll) starts from the closest
	// nodes of the previous one: it asks fewer nodes, and still finds it.
	var first, again atomic.Int64
	var pollers sync.WaitGroup
	for i := range 5 {
		pollers.Go(func() {
			priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(100 + i)}, 32))
			it, err := bep44.NewMutable(priv, []byte("poll"), 1, []byte("4:poll"))
			if err == nil {
				_, err = s.nodes[s.live[i]].Put(context.Background(), it, PutOptions{})
			}
			if err != nil {
				t.Errorf("poll %d: put: %v", i, err)
				return
			}
			getter := s.nodes[s.live[50+i]]
			for _, count := range []*atomic.Int64{&first, &again} {
				res, err := getter.Get(context.Background(), GetRequest{PublicKey: it.K[:], Salt: it.Salt, MinSeq: 1})
				if err != nil || res.Item.Seq != 1 {
					t.Errorf("poll %d: %v (seq %d)", i, err, res.Item.Seq)
				}
				count.Add(int64(res.Msgs))
			}
		})
	}
	pollers.Wait()
	t.Logf("5 polls: %d queries the first time, %d the second", first.Load(), again.Load())
	if again.Load() >= first.Load() {
		t.Errorf("repeated gets sent %d queries, first ones %d: the closest nodes were not reused", again.Load(), first.Load())
	}

	// Peers: a few nodes announce a torrent, another finds them.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ih := [20]byte{0: 0x5e, 19: 7}
	var want []netip.AddrPort
	var wg sync.WaitGroup
	for k := range 4 {
		nd := s.nodes[s.live[k]]
		want = append(want, nd.Addr())
		wg.Go(func() {
			if _, err := nd.Announce(ctx, ih, 0, true); err != nil {
				t.Errorf("announce from %v: %v", nd.Addr(), err)
			}
		})
	}
	wg.Wait()
	got, err := s.nodes[s.live[10]].GetPeers(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range want {
		if slices.Contains(got, p) {
			found++
		}
	}
	if found < 3 {
		t.Errorf("get_peers found %d of the 4 announced peers (%v)", found, got)
	}
}

// BenchmarkSimnetGetPut prints the figures of the default DHT benchmark scenario on a
// smaller network (the full one is `dhtdb bench dht`).
func BenchmarkSimnetGetPut(b *testing.B) {
	for range b.N {
		s := newSimNet(b, 2000, 0.2, 2)
		o := runSimOps(b, s, 100, 2)
		b.Log(o)
		b.ReportMetric(float64(o.getDur[len(o.getDur)/2].Milliseconds()), "get-p50-ms")
		b.ReportMetric(float64(o.putDur[len(o.putDur)/2].Milliseconds()), "put-p50-ms")
		b.ReportMetric(float64(o.stored)/float64(len(o.putDur)), "stored/8")
	}
}
