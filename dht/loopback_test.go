package dht

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

// startRealNodes starts count nodes on loopback UDP with the real clock.
func startRealNodes(t *testing.T, count int, mod func(*Config)) []*Node {
	t.Helper()
	var nodes []*Node
	for range count {
		cfg := Config{Conn: listen(t), QueryTimeout: 3 * time.Second}
		if mod != nil {
			mod(&cfg)
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	return nodes
}

func TestLoopbackNetworkBootstraps(t *testing.T) {
	nodes := startRealNodes(t, 30, nil)
	seed := nodes[0].Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range nodes[1:] {
		n.cfg.Bootstrap = []string{seed}
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatalf("bootstrap %v: %v", n.Addr(), err)
		}
	}
	// A second round lets the early joiners learn about the later ones.
	for _, n := range nodes[1:] {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range nodes {
		if s := n.Stats(); s.Nodes < K {
			t.Errorf("node %d knows %d nodes after bootstrap", i, s.Nodes)
		}
	}
	// Every node answers pings with its id.
	for _, n := range nodes[1:] {
		id, err := nodes[0].Ping(ctx, n.Addr())
		if err != nil || id != n.ID() {
			t.Fatalf("ping %v: id %x err %v", n.Addr(), id, err)
		}
	}
	// An iterative find_node for a node's id finds that node first, from
	// every starting point.
	for _, from := range []int{0, 3, 29} {
		for _, ti := range []int{1, 17, 28} {
			if from == ti {
				continue
			}
			got, err := nodes[from].findNode(ctx, nodes[ti].ID())
			if err != nil || len(got) < K || got[0].ID != nodes[ti].ID() || got[0].Addr != nodes[ti].Addr() {
				t.Fatalf("find_node from %d for %d: %v, err %v", from, ti, got, err)
			}
		}
	}
	// One find_node query answers the K closest of the node's table, closest
	// first.
	m, err := nodes[3].query(ctx, nodes[0].Addr(), krpc.MethodFindNode, &krpc.Args{Target: nodes[17].ID(), HasTarget: true})
	if err != nil {
		t.Fatal(err)
	}
	var want []krpc.NodeInfo
	for _, ni := range nodes[0].closest(nodes[17].ID(), K+1) {
		if ni.Addr != nodes[3].Addr() { // a node is not told about itself
			want = append(want, ni)
		}
	}
	if len(m.R.Nodes) != K || m.R.Nodes[0] != want[0] {
		t.Fatalf("find_node: %v, want %v", m.R.Nodes, want)
	}
}

func TestLoopbackPutGetOverUDP(t *testing.T) {
	nodes := startRealNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := mutable(t, testKey(5), "db", 1, "d2:ih20:aaaaaaaaaaaaaaaaaaaae")
	m, err := a.query(ctx, b.Addr(), krpc.MethodGet, &krpc.Args{Target: it.Target(), HasTarget: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.IP != a.Addr() {
		t.Errorf("BEP 42 ip %v, want %v", m.IP, a.Addr())
	}
	if _, err := a.query(ctx, b.Addr(), krpc.MethodPut, putArgs(it, m.R.Token)); err != nil {
		t.Fatal(err)
	}
	m, err = a.query(ctx, b.Addr(), krpc.MethodGet, &krpc.Args{Target: it.Target(), HasTarget: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(m.R.V) != string(it.V) || m.R.Seq != 1 {
		t.Fatalf("get after put: %+v", m.R)
	}
	// A replay of a lower seq comes back as a KRPC error the caller can inspect.
	it2 := mutable(t, testKey(5), "db", 0, "1:x")
	_, err = a.query(ctx, b.Addr(), krpc.MethodPut, putArgs(it2, m.R.Token))
	var kerr *krpc.Error
	if !errors.As(err, &kerr) || kerr.Code != bep44.CodeSeqTooLow {
		t.Fatalf("replayed put: %v", err)
	}
	if a.Stats().Nodes != 1 {
		t.Fatalf("answering node not in table: %+v", a.Stats())
	}
}

func TestQueryTimeoutCancelAndClose(t *testing.T) {
	n, fc := newTestNode(t, nil)
	silent := listen(t) // bound, never answers
	addr := silent.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	n.nodeAnswered(idOf(0x42), addr)

	done := make(chan error, 1)
	go func() {
		_, err := n.query(context.Background(), addr, krpc.MethodPing, &krpc.Args{})
		done <- err
	}()
	waitPending(t, n, 1)
	fc.Advance(DefaultQueryTimeout)
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if n.Stats().Nodes != 1 {
		t.Fatal("evicted after one timeout")
	}
	go func() {
		_, err := n.query(context.Background(), addr, krpc.MethodPing, &krpc.Args{})
		done <- err
	}()
	waitPending(t, n, 1)
	fc.Advance(DefaultQueryTimeout)
	<-done
	if n.Stats().Nodes != 0 {
		t.Fatal("not evicted after two timeouts")
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := n.query(ctx, addr, krpc.MethodPing, &krpc.Args{})
		done <- err
	}()
	waitPending(t, n, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	waitPending(t, n, 0)

	go func() {
		_, err := n.query(context.Background(), addr, krpc.MethodPing, &krpc.Args{})
		done <- err
	}()
	waitPending(t, n, 1)
	n.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}

func waitPending(t *testing.T, n *Node, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n.mu.Lock()
		got := len(n.txs)
		n.mu.Unlock()
		if got == want {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pending queries never reached %d", want)
}

func TestMalformedPacketsGetErrorOrNothing(t *testing.T) {
	nodes := startRealNodes(t, 1, nil)
	c := listen(t)
	defer c.Close()
	to := nodes[0].Addr()
	send := func(p string) {
		if _, err := c.WriteToUDPAddrPort([]byte(p), to); err != nil {
			t.Fatal(err)
		}
	}
	send("garbage")
	send("d1:ad2:id3:abce1:q4:ping1:t2:xy1:y1:qe") // bad id: 203 with our t
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	sz, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krpc.Decode(buf[:sz])
	if err != nil || m.E == nil || m.E.Code != krpc.CodeProtocol || string(m.T) != "xy" {
		t.Fatalf("reply %+v err %v", m, err)
	}
	if s := nodes[0].Stats(); s.Malformed != 2 {
		t.Fatalf("Malformed = %d", s.Malformed)
	}
}

// Maintenance pings nodes not heard from for BucketRefresh: the silent ones
// are evicted after MaxFails timeouts, the live one stays.
func TestMaintenanceEvictsSilentNodes(t *testing.T) {
	n, fc := newTestNode(t, nil)
	live := startRealNodes(t, 1, nil)[0]
	n.nodeAnswered(live.ID(), live.Addr())
	for i := range 3 {
		c := listen(t) // bound, never answers
		t.Cleanup(func() { c.Close() })
		n.nodeAnswered(idOf(byte(0x80+i)), c.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort())
	}
	if n.Stats().Nodes != 4 {
		t.Fatalf("table: %d nodes", n.Stats().Nodes)
	}
	fc.Advance(BucketRefresh)
	deadline := time.Now().Add(20 * time.Second)
	for n.Stats().Nodes > 1 && time.Now().Before(deadline) {
		n.maintain()
		// Let the queries go out and the live node's answers come back
		// before the fake clock times out whatever is still pending.
		time.Sleep(20 * time.Millisecond)
		waitNoPendingTo(t, n, live.Addr())
		fc.Advance(DefaultQueryTimeout)
		fc.Advance(BucketRefresh)
	}
	if got := n.closest(idOf(0), 10); len(got) != 1 || got[0].Addr != live.Addr() {
		t.Fatalf("table after maintenance: %v, want only the live node", got)
	}
}

func waitNoPendingTo(t *testing.T, n *Node, addr netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pending := false
		n.mu.Lock()
		for _, p := range n.txs {
			pending = pending || p.addr == addr
		}
		n.mu.Unlock()
		if !pending {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("queries to %v never answered", addr)
}
