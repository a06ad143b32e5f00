package dht

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/simnet"
)

// TestSimnetNetworkJoins runs 200 nodes on the simulated network (latency,
// loss and silent nodes) and checks that they join through one seed and
// that iterative find_node finds live nodes despite the silent ones.
func TestSimnetNetworkJoins(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated network of 200 nodes")
	}
	sn := simnet.New(simnet.Config{Seed: 7, MinRTT: 20 * time.Millisecond, MaxRTT: 100 * time.Millisecond, Loss: 0.01})
	defer sn.Close()
	rnd := rand.New(rand.NewPCG(7, 7))
	var nodes []*Node
	var silent []netip.AddrPort
	for i := range 200 {
		conn, err := sn.Listen(netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(Config{Conn: conn, Rand: rand.New(rand.NewPCG(uint64(i), 1)), QueryTimeout: 3 * time.Second, DisableBackground: true}) // generous: -race on a loaded 2-core machine
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seed := nodes[0].Addr().String()
	start := time.Now()
	// Join in waves of 30 concurrent nodes.
	for w := 1; w < len(nodes); w += 30 {
		wave := nodes[w:min(w+30, len(nodes))]
		errs := make(chan error, len(wave))
		for _, n := range wave {
			n.cfg.Bootstrap = []string{seed}
			go func() { errs <- n.Bootstrap(ctx) }()
		}
		for range wave {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	var to, out, limited uint64
	for _, n := range nodes {
		s := n.Stats()
		to, out, limited = to+s.Timeouts, out+s.QueriesOut, limited+s.RateLimited
	}
	if limited > 0 {
		t.Errorf("%d queries rate limited while joining", limited)
	}
	t.Logf("200 nodes joined in %v: %d queries, %d timeouts, network %+v", time.Since(start), out, to, sn.Stats())
	// Silence 20% of the nodes, then look up live nodes' ids.
	for i, n := range nodes {
		if i > 0 && rnd.IntN(5) == 0 {
			sn.SetSilent(n.Addr(), true)
			silent = append(silent, n.Addr())
		}
	}
	isSilent := func(a netip.AddrPort) bool {
		for _, s := range silent {
			if s == a {
				return true
			}
		}
		return false
	}
	found, tries := 0, 0
	for range 20 {
		from, to := nodes[rnd.IntN(len(nodes))], nodes[rnd.IntN(len(nodes))]
		if from == to || isSilent(from.Addr()) || isSilent(to.Addr()) {
			continue
		}
		tries++
		got, err := from.findNode(ctx, to.ID())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && got[0].ID == to.ID() {
			found++
		}
	}
	if found < tries*3/4 {
		t.Fatalf("found the target in %d of %d lookups", found, tries)
	}
	var sum int
	for _, n := range nodes {
		sum += n.Stats().Nodes
	}
	t.Logf("mean table size %d, lookups found %d/%d", sum/len(nodes), found, tries)
}
