package dht

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/krpc"
)

// Helpers of the client-side tests: a network of real nodes on loopback UDP,
// and scripted fake nodes (hostile or silent) speaking raw KRPC.

// newLoopbackNet starts n nodes on 127.0.0.1 and joins them through the
// first three. tweak, if not nil, adjusts each node's config.
func newLoopbackNet(t *testing.T, n int, seed uint64, tweak func(i int, c *Config)) []*Node {
	t.Helper()
	var nodes []*Node
	var boot []string
	for i := range n {
		cfg := Config{
			Conn:      listen(t),
			Rand:      rand.New(rand.NewPCG(seed, uint64(i))),
			Bootstrap: boot,
		}
		if tweak != nil {
			tweak(i, &cfg)
		}
		nd, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
		if i < 3 {
			boot = append(boot, nd.Addr().String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Two passes: the first joins everyone, the second lets the early nodes
	// learn about the late ones.
	for range 2 {
		for _, nd := range nodes[1:] {
			if err := nd.Bootstrap(ctx); err != nil {
				t.Fatalf("bootstrap %v: %v", nd.Addr(), err)
			}
		}
	}
	return nodes
}

// newNodeNear starts a node whose id is target with the last byte xored
// with x, joined to the network through boot, so that fake nodes near target
// fit in its (otherwise empty) deepest bucket.
func newNodeNear(t *testing.T, target [20]byte, x byte, boot *Node, tweak func(*Config)) *Node {
	t.Helper()
	id := target
	id[19] ^= x
	cfg := Config{Conn: listen(t), ID: id, Rand: rand.New(rand.NewPCG(uint64(x), 99))}
	if boot != nil {
		cfg.Bootstrap = []string{boot.Addr().String()}
	}
	if tweak != nil {
		tweak(&cfg)
	}
	nd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	if boot != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := nd.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return nd
}

// fakeNode is a raw KRPC endpoint answering with a scripted handler: a
// *krpc.Return answers, a *krpc.Error is an error reply, nil is silence.
type fakeNode struct {
	id   [20]byte
	conn *net.UDPConn
	gets atomic.Int64 // get and get_peers queries received
}

func (f *fakeNode) addr() netip.AddrPort { return f.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func startFake(t *testing.T, id [20]byte, handle func(q *krpc.Msg) any) *fakeNode {
	t.Helper()
	f := &fakeNode{id: id, conn: listen(t)}
	t.Cleanup(func() { f.conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := f.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			q, err := krpc.Decode(buf[:n])
			if err != nil || q.Y != krpc.TypeQuery {
				continue
			}
			if q.Q == krpc.MethodGet || q.Q == krpc.MethodGetPeers {
				f.gets.Add(1)
			}
			m := &krpc.Msg{T: q.T}
			switch r := handle(q).(type) {
			case *krpc.Return:
				r.ID = f.id
				m.Y, m.R = krpc.TypeResponse, r
			case *krpc.Error:
				m.Y, m.E = krpc.TypeError, r
			default:
				continue
			}
			out, err := m.Encode()
			if err == nil {
				f.conn.WriteToUDPAddrPort(out, from)
			}
		}
	}()
	return f
}

// addFake makes nd know f: it adds it and waits until it is in the table.
func addFake(t *testing.T, nd *Node, f *fakeNode) {
	t.Helper()
	if err := nd.AddNode(f.addr()); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if slices.ContainsFunc(nd.closest(f.id, 8), func(ni krpc.NodeInfo) bool { return ni.Addr == f.addr() }) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fake node %v never entered the routing table", f.addr())
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("err = %v, want it to wrap %v", err, target)
		}
	}
}
