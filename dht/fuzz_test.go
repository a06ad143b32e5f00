package dht

import (
	"bytes"
	"testing"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

// checkStore asserts that every stored item is valid and under its target.
func checkStore(t *testing.T, n *Node) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for target, st := range n.store.items {
		if err := st.item.Verify(); err != nil {
			t.Fatalf("stored invalid item: %v", err)
		}
		if st.item.Target() != target {
			t.Fatalf("item stored under a wrong target")
		}
		if len(st.item.V) > bep44.MaxValueSize {
			t.Fatalf("oversize item stored")
		}
	}
}

// FuzzPutHandler feeds arbitrary put arguments to the handler: no panic,
// and nothing invalid is ever stored. Seeds include a valid signed put whose
// fields the fuzzer mutates.
func FuzzPutHandler(f *testing.F) {
	priv := testKey(9)
	it, _ := bep44.NewMutable(priv, []byte("salt"), 3, []byte("d2:ih20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add(it.V, it.K[:], it.Sig[:], it.Salt, int64(3), true, int64(2), true, true)
	f.Add([]byte("12:Hello World!"), []byte(nil), []byte(nil), []byte(nil), int64(0), false, int64(0), false, true)
	f.Add([]byte("i1e"), make([]byte, 32), make([]byte, 64), []byte(nil), int64(-1), true, int64(0), false, false)
	n, _ := newTestNode(f, func(c *Config) { c.RateLimit = -1 })
	tok := tokenFor(f, n, peerA)
	f.Fuzz(func(t *testing.T, v, k, sig, salt []byte, seq int64, hasSeq bool, cas int64, hasCAS, goodToken bool) {
		a := &krpc.Args{V: v, K: k, Sig: sig, Salt: salt, Seq: seq, HasSeq: hasSeq, CAS: cas, HasCAS: hasCAS, Token: []byte("bad")}
		if goodToken {
			a.Token = tok
		}
		if v == nil {
			a.V = nil
		}
		if len(k) == 0 {
			a.K = nil
		}
		if len(sig) == 0 {
			a.Sig = nil
		}
		r := ask(n, peerA, krpc.MethodPut, a)
		if r == nil {
			t.Fatal("no reply")
		}
		if r.E == nil && !goodToken {
			t.Fatal("put accepted with a bad token")
		}
		checkStore(t, n)
	})
}

// FuzzGetHandler feeds arbitrary get arguments (target, seq) to the
// handler with one item stored: no panic, a served value always verifies
// against the requested target, and `seq` suppresses values not newer.
func FuzzGetHandler(f *testing.F) {
	priv := testKey(8)
	it, _ := bep44.NewMutable(priv, []byte("s"), 5, []byte("1:x"))
	target := it.Target()
	f.Add(target[:], int64(5), true, []byte("n4"))
	f.Add(target[:], int64(4), true, []byte(nil))
	f.Add(make([]byte, 20), int64(0), false, []byte("n6"))
	n, _ := newTestNode(f, func(c *Config) { c.RateLimit = -1 })
	wantCode(f, "seed put", ask(n, peerA, krpc.MethodPut, putArgs(it, tokenFor(f, n, peerA))), 0)
	f.Fuzz(func(t *testing.T, tgt []byte, seq int64, hasSeq bool, want []byte) {
		a := &krpc.Args{Seq: seq, HasSeq: hasSeq}
		if len(tgt) == 20 {
			a.Target, a.HasTarget = [20]byte(tgt), true
		}
		if len(want) > 0 {
			a.Want = []string{string(want)}
		}
		r := ask(n, peerA, krpc.MethodGet, a)
		if r == nil {
			t.Fatal("no reply")
		}
		if !a.HasTarget {
			if r.E == nil || r.E.Code != krpc.CodeProtocol {
				t.Fatalf("get without target: %+v", r)
			}
			return
		}
		if r.R == nil || len(r.R.Token) == 0 {
			t.Fatalf("get: %+v", r)
		}
		if r.R.V == nil {
			if a.Target == target && (!hasSeq || seq < 5) {
				t.Fatal("stored item not served")
			}
			return
		}
		if hasSeq && seq >= 5 {
			t.Fatal("value served to a get with seq >= stored seq")
		}
		got := bep44.Item{V: r.R.V, Mutable: true, K: [32]byte(r.R.K), Sig: [64]byte(r.R.Sig), Salt: []byte("s"), Seq: r.R.Seq}
		if got.Target() != a.Target || got.Verify() != nil || !bytes.Equal(got.V, it.V) {
			t.Fatal("served item does not match the target")
		}
	})
}
