package dht

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

// TestGetPutLoopback runs puts and gets between different nodes of a
// 40-node network on real loopback UDP sockets.
func TestGetPutLoopback(t *testing.T) {
	nodes := newLoopbackNet(t, 40, 1, nil)
	ctx := testCtx(t)
	putter, getter := nodes[5], nodes[30]

	t.Run("immutable", func(t *testing.T) {
		it, err := bep44.NewImmutable([]byte("12:Hello World!"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := putter.Put(ctx, it, PutOptions{})
		if err != nil {
			t.Fatalf("put: %v (report %+v)", err, rep)
		}
		if rep.Stored < 7 || rep.Target != it.Target() {
			t.Fatalf("put stored on %d nodes, want >= 7 (report %+v)", rep.Stored, rep)
		}
		res, err := getter.Get(ctx, GetRequest{Target: it.Target()})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Item.V, it.V) || res.Item.Mutable {
			t.Fatalf("got %+v, want %q", res.Item, it.V)
		}
		if res.Found < 5 || res.Closest < 7 || res.Msgs == 0 {
			t.Fatalf("get found it on %d of %d closest (%d msgs)", res.Found, res.Closest, res.Msgs)
		}
		if _, err := getter.Get(ctx, GetRequest{Target: bep44.ImmutableTarget([]byte("3:abc"))}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get of a missing item: err = %v, want ErrNotFound", err)
		}
	})

	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	req := GetRequest{PublicKey: pub, Salt: []byte("db")}
	t.Run("mutable", func(t *testing.T) {
		if _, err := putter.Put(ctx, mutable(t, priv, "db", 1, "3:one"), PutOptions{}); err != nil {
			t.Fatal(err)
		}
		two := mutable(t, priv, "db", 2, "3:two")
		rep, err := putter.Put(ctx, two, PutOptions{CAS: 1, HasCAS: true})
		if err != nil || rep.Stored < 7 {
			t.Fatalf("cas put: %v (report %+v)", err, rep)
		}
		res, err := getter.Get(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Item.Seq != 2 || !bytes.Equal(res.Item.V, two.V) || res.Item.Sig != two.Sig || res.Found < 5 {
			t.Fatalf("got seq %d %q on %d nodes, want seq 2 %q", res.Item.Seq, res.Item.V, res.Found, two.V)
		}
		// Another salt is another item.
		if _, err := getter.Get(ctx, GetRequest{PublicKey: pub, Salt: []byte("other")}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get of another salt: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("min seq", func(t *testing.T) {
		r := req
		r.MinSeq = 2
		res, err := getter.Get(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if res.Item.Seq != 2 || res.Found < 5 || res.Item.K != [32]byte(pub) {
			t.Fatalf("MinSeq 2: got seq %d on %d nodes, want the unchanged seq 2", res.Item.Seq, res.Found)
		}
		if res.Item.V != nil {
			t.Fatalf("MinSeq 2: got value %q, want none (the nodes hold nothing newer)", res.Item.V)
		}
		r.MinSeq = 3
		if _, err := getter.Get(ctx, r); !errors.Is(err, ErrNotFound) {
			t.Fatalf("MinSeq 3: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("cas mismatch and old seq are reported", func(t *testing.T) {
		rep, err := putter.Put(ctx, mutable(t, priv, "db", 3, "5:three"), PutOptions{CAS: 1, HasCAS: true})
		wantErr(t, err, ErrNotStored, ErrCASMismatch)
		if rep.Stored != 0 || rep.Rejected[bep44.CodeCASMismatch] < 5 {
			t.Fatalf("cas mismatch report %+v", rep)
		}
		rep, err = putter.Put(ctx, mutable(t, priv, "db", 1, "3:old"), PutOptions{})
		wantErr(t, err, ErrNotStored, ErrSeqTooLow)
		if rep.Rejected[bep44.CodeSeqTooLow] < 5 {
			t.Fatalf("old seq report %+v", rep)
		}
		res, err := getter.Get(ctx, req)
		if err != nil || res.Item.Seq != 2 {
			t.Fatalf("after refused puts: seq %d, %v; want 2", res.Item.Seq, err)
		}
	})

	t.Run("invalid requests", func(t *testing.T) {
		if _, err := getter.Get(ctx, GetRequest{PublicKey: []byte{1, 2}}); !errors.Is(err, bep44.ErrBadKey) {
			t.Fatalf("short key: err = %v", err)
		}
		bad := mutable(t, priv, "db", 9, "3:bad")
		bad.Seq = 10 // the signature covers seq 9
		if _, err := putter.Put(ctx, bad, PutOptions{}); !errors.Is(err, bep44.ErrBadSignature) {
			t.Fatalf("put of a badly signed item: err = %v", err)
		}
	})
}

// A hostile node next to the target answers every get with a forged value;
// Get ignores it and returns the genuine one.
func TestGetIgnoresForgedValues(t *testing.T) {
	nodes := newLoopbackNet(t, 30, 2, nil)
	ctx := testCtx(t)
	priv := testKey(2)
	good := mutable(t, priv, "x", 5, "4:good")
	imm, _ := bep44.NewImmutable([]byte("9:immutable"))
	for _, it := range []bep44.Item{good, imm} {
		if _, err := nodes[3].Put(ctx, it, PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range []bep44.Item{good, imm} {
		target := it.Target()
		getter := newNodeNear(t, target, 1, nodes[0], nil)
		forgedSig := mutable(t, testKey(3), "x", 99, "6:forged") // signed by another key
		evil := startFake(t, nearID(target, 2), func(q *krpc.Msg) any {
			if q.Q != krpc.MethodGet {
				return &krpc.Return{}
			}
			if !it.Mutable {
				return &krpc.Return{V: []byte("6:forged"), Token: []byte("t")} // wrong hash
			}
			return &krpc.Return{V: forgedSig.V, K: it.K[:], Sig: forgedSig.Sig[:], Seq: 99, HasSeq: true, Token: []byte("t")}
		})
		addFake(t, getter, evil)
		req := GetRequest{Target: target}
		if it.Mutable {
			req = GetRequest{PublicKey: it.K[:], Salt: it.Salt}
		}
		res, err := getter.Get(ctx, req)
		if err != nil {
			t.Fatalf("mutable=%v: %v", it.Mutable, err)
		}
		if !bytes.Equal(res.Item.V, it.V) || res.Item.Seq != it.Seq {
			t.Fatalf("mutable=%v: got seq %d %q, want the genuine %q", it.Mutable, res.Item.Seq, res.Item.V, it.V)
		}
		if evil.gets.Load() == 0 {
			t.Fatalf("mutable=%v: the hostile node was never asked", it.Mutable)
		}
	}
}

func nearID(target [20]byte, x byte) [20]byte {
	target[19] ^= x
	return target
}

// A node among the closest that answers pings but never a get must not hold
// up a get: with a hard timeout of a minute the get still ends well before.
func TestGetDoesNotWaitForSilentNode(t *testing.T) {
	nodes := newLoopbackNet(t, 30, 3, nil)
	ctx := testCtx(t)
	it, _ := bep44.NewImmutable([]byte("4:slow"))
	if _, err := nodes[7].Put(ctx, it, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const hard = time.Minute
	getter := newNodeNear(t, it.Target(), 1, nodes[0], func(c *Config) { c.QueryTimeout = hard })
	var silent []*fakeNode
	for i := byte(2); i < 4; i++ {
		f := startFake(t, nearID(it.Target(), i), func(q *krpc.Msg) any {
			if q.Q == krpc.MethodGet {
				return nil
			}
			return &krpc.Return{}
		})
		addFake(t, getter, f)
		silent = append(silent, f)
	}
	start := time.Now()
	res, err := getter.Get(ctx, GetRequest{Target: it.Target()})
	if err != nil || !bytes.Equal(res.Item.V, it.V) {
		t.Fatalf("get: %v %q", err, res.Item.V)
	}
	if d := time.Since(start); d > hard/2 {
		t.Fatalf("get took %v: it waited for the silent nodes' hard timeout", d)
	}
	for _, f := range silent {
		if f.gets.Load() == 0 {
			t.Fatalf("silent node %v was never asked", f.addr())
		}
	}

	// The queries to the silent nodes were abandoned when the get returned:
	// more gets leave no goroutines behind.
	base := runtime.NumGoroutine()
	for range 10 {
		if _, err := getter.Get(ctx, GetRequest{Target: it.Target()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; runtime.NumGoroutine() > base+2; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines after 10 gets, %d before", runtime.NumGoroutine(), base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A put that no node stores is an error wrapping ErrNotStored, with the
// report of what happened.
func TestPutNobodyStores(t *testing.T) {
	ctx := testCtx(t)
	it, _ := bep44.NewImmutable([]byte("5:alone"))

	lonely := newNodeNear(t, it.Target(), 1, nil, nil)
	rep, err := lonely.Put(ctx, it, PutOptions{})
	wantErr(t, err, ErrNotStored, ErrNoNodes)
	if _, err := lonely.Get(ctx, GetRequest{Target: it.Target()}); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrNoNodes) {
		t.Fatalf("get with an empty table: err = %v, want ErrNotFound and ErrNoNodes", err)
	}
	if rep.Stored != 0 || rep.Target != it.Target() {
		t.Fatalf("report %+v", rep)
	}

	// Nodes that give tokens but refuse every put.
	for i := byte(2); i < 6; i++ {
		f := startFake(t, nearID(it.Target(), i), func(q *krpc.Msg) any {
			if q.Q == krpc.MethodPut {
				return &krpc.Error{Code: krpc.CodeServer, Msg: "no room"}
			}
			return &krpc.Return{Token: []byte("tok")}
		})
		addFake(t, lonely, f)
	}
	rep, err = lonely.Put(ctx, it, PutOptions{})
	wantErr(t, err, ErrNotStored)
	if errors.Is(err, ErrNoNodes) {
		t.Fatalf("err = %v: nodes were asked", err)
	}
	if rep.Stored != 0 || rep.Rejected[krpc.CodeServer] != 4 {
		t.Fatalf("report %+v, want 4 rejections with code %d", rep, krpc.CodeServer)
	}
}

// A put whose first packet (or its answer) is lost is retransmitted after the
// soft timeout; under a CAS, a retransmission refused with 301 because the
// first copy landed is confirmed with a get and counts as stored.
func TestPutRetransmits(t *testing.T) {
	ctx := testCtx(t)
	it := mutable(t, testKey(7), "r", 5, "5:hello")
	target := it.Target()
	putter := newNodeNear(t, target, 1, nil, func(c *Config) { c.QueryTimeout = time.Second })
	var puts [3]atomic.Int64
	for i := range 3 {
		f := startFake(t, nearID(target, byte(2+i)), func(q *krpc.Msg) any {
			switch q.Q {
			case krpc.MethodPut:
				n := puts[i].Add(1)
				switch {
				case i == 2 || n == 1:
					return nil // lost; node 2 loses everything
				case i == 1:
					return &krpc.Error{Code: bep44.CodeCASMismatch, Msg: "cas mismatch"}
				}
				return &krpc.Return{}
			case krpc.MethodGet:
				r := &krpc.Return{Token: []byte("tok")}
				if i == 1 && puts[i].Load() > 0 && q.A.HasSeq && q.A.Seq < it.Seq {
					r.V, r.K, r.Sig, r.Seq, r.HasSeq = it.V, it.K[:], it.Sig[:], it.Seq, true
				}
				return r
			}
			return &krpc.Return{}
		})
		addFake(t, putter, f)
	}
	rep, err := putter.Put(ctx, it, PutOptions{CAS: 4, HasCAS: true})
	if err != nil || rep.Stored != 2 || rep.TimedOut != 1 {
		t.Fatalf("put: %v, report %+v; want stored 2 (one retransmitted, one confirmed), timed out 1", err, rep)
	}
	for i := range 3 {
		if n := puts[i].Load(); n != 2 {
			t.Errorf("node %d got %d puts, want 2 (one retransmission)", i, n)
		}
	}
}

func TestClientCallsOnClosedNode(t *testing.T) {
	nd := newNodeNear(t, [20]byte{1}, 1, nil, nil)
	nd.Close()
	ctx := testCtx(t)
	it, _ := bep44.NewImmutable([]byte("1:x"))
	if _, err := nd.Get(ctx, GetRequest{Target: it.Target()}); !errors.Is(err, ErrClosed) {
		t.Errorf("get: err = %v, want ErrClosed", err)
	}
	if _, err := nd.Put(ctx, it, PutOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("put: err = %v, want ErrClosed", err)
	}
	if _, err := nd.Announce(ctx, it.Target(), 1, false); !errors.Is(err, ErrClosed) {
		t.Errorf("announce: err = %v, want ErrClosed", err)
	}
}
