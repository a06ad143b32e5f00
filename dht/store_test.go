package dht

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

func TestPutImmutableWithoutSeqThenGet(t *testing.T) {
	n, _ := newTestNode(t, nil)
	tok := tokenFor(t, n, peerA)
	it, err := bep44.NewImmutable([]byte("12:Hello World!"))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "immutable put", ask(n, peerA, krpc.MethodPut, &krpc.Args{V: it.V, Token: tok}), 0)
	r := ask(n, peerA, krpc.MethodGet, &krpc.Args{Target: it.Target(), HasTarget: true})
	if !bytes.Equal(r.R.V, it.V) || r.R.HasSeq || r.R.K != nil {
		t.Fatalf("get: %+v", r.R)
	}
}

func TestPutMutableSeqAndCAS(t *testing.T) {
	n, _ := newTestNode(t, nil)
	tok := tokenFor(t, n, peerA)
	priv := testKey(1)
	put := func(what string, it bep44.Item, cas int64, hasCAS bool, code int) {
		t.Helper()
		a := putArgs(it, tok)
		a.CAS, a.HasCAS = cas, hasCAS
		wantCode(t, what, ask(n, peerA, krpc.MethodPut, a), code)
	}
	put("first put, cas on empty slot", mutable(t, priv, "db", 5, "1:a"), 3, true, 0)
	put("same seq same v refreshes", mutable(t, priv, "db", 5, "1:a"), 0, false, 0)
	put("same seq other v", mutable(t, priv, "db", 5, "1:b"), 0, false, bep44.CodeSeqTooLow)
	put("lower seq (replay)", mutable(t, priv, "db", 4, "1:c"), 0, false, bep44.CodeSeqTooLow)
	put("cas differs from stored seq", mutable(t, priv, "db", 6, "1:d"), 4, true, bep44.CodeCASMismatch)
	put("cas equals stored seq", mutable(t, priv, "db", 6, "1:d"), 5, true, 0)
	put("other salt is another item", mutable(t, priv, "db2", 1, "1:z"), 0, false, 0)

	target := bep44.MutableTarget(mutable(t, priv, "db", 1, "1:x").K, []byte("db"))
	get := func(seq int64, hasSeq bool) *krpc.Return {
		return ask(n, peerA, krpc.MethodGet, &krpc.Args{Target: target, HasTarget: true, Seq: seq, HasSeq: hasSeq}).R
	}
	r := get(0, false)
	if string(r.V) != "1:d" || r.Seq != 6 || len(r.K) != 32 || len(r.Sig) != 64 || len(r.Token) == 0 {
		t.Fatalf("get: %+v", r)
	}
	got := bep44.Item{V: r.V, Mutable: true, K: [32]byte(r.K), Sig: [64]byte(r.Sig), Salt: []byte("db"), Seq: r.Seq}
	if err := got.Verify(); err != nil {
		t.Fatalf("served item does not verify: %v", err)
	}
	if r := get(6, true); r.V != nil || r.K != nil || r.Sig != nil || !r.HasSeq || r.Seq != 6 || len(r.Token) == 0 {
		t.Fatalf("get with seq = stored: %+v", r)
	}
	if r := get(5, true); string(r.V) != "1:d" {
		t.Fatalf("get with older seq: %+v", r)
	}
}

func TestPutErrorCodes(t *testing.T) {
	n, _ := newTestNode(t, nil)
	tok := tokenFor(t, n, peerA)
	good := mutable(t, testKey(2), "s", 1, "1:a")
	cases := []struct {
		name string
		a    *krpc.Args
		code int
	}{
		{"too big", &krpc.Args{V: []byte("997:" + strings.Repeat("x", 997)), Token: tok}, bep44.CodeTooBig},
		{"bad signature", func() *krpc.Args { a := putArgs(good, tok); a.Seq = 2; return a }(), bep44.CodeBadSignature},
		{"salt too big", func() *krpc.Args { a := putArgs(good, tok); a.Salt = make([]byte, 65); return a }(), bep44.CodeSaltTooBig},
		{"no token", putArgs(good, nil), krpc.CodeProtocol},
		{"bad token", putArgs(good, []byte("12345678")), krpc.CodeProtocol},
		{"short key", func() *krpc.Args { a := putArgs(good, tok); a.K = a.K[:31]; return a }(), krpc.CodeProtocol},
		{"no seq", func() *krpc.Args { a := putArgs(good, tok); a.HasSeq = false; return a }(), krpc.CodeProtocol},
		{"no v", &krpc.Args{Token: tok}, krpc.CodeProtocol},
	}
	for _, c := range cases {
		wantCode(t, c.name, ask(n, peerA, krpc.MethodPut, c.a), c.code)
	}
	// A token is bound to the IP it was issued to.
	other := netip.MustParseAddrPort("127.0.0.3:7000")
	wantCode(t, "token of another IP", ask(n, other, krpc.MethodPut, putArgs(good, tok)), krpc.CodeProtocol)
	wantCode(t, "token of same IP, other port", ask(n, netip.AddrPortFrom(peerA.Addr(), 9), krpc.MethodPut, putArgs(good, tok)), 0)
	n.mu.Lock()
	delete(n.store.items, good.Target())
	n.mu.Unlock()
	if n.Stats().Items != 0 {
		t.Fatalf("rejected puts stored %d items", n.Stats().Items)
	}
}

func TestItemExpiryAndRefresh(t *testing.T) {
	n, fc := newTestNode(t, nil) // ItemTTL zero: the 2 h default
	tok := tokenFor(t, n, peerA)
	it := mutable(t, testKey(3), "", 1, "1:a")
	wantCode(t, "put", ask(n, peerA, krpc.MethodPut, putArgs(it, tok)), 0)
	has := func() bool {
		r := ask(n, peerA, krpc.MethodGet, &krpc.Args{Target: it.Target(), HasTarget: true})
		return r.R.V != nil
	}
	fc.Advance(DefaultItemTTL - time.Minute)
	if !has() {
		t.Fatal("item gone before its TTL")
	}
	tok = tokenFor(t, n, peerA)
	wantCode(t, "refresh", ask(n, peerA, krpc.MethodPut, putArgs(it, tok)), 0)
	fc.Advance(DefaultItemTTL - time.Minute)
	if !has() {
		t.Fatal("refreshed item expired at the first deadline")
	}
	fc.Advance(2 * time.Minute)
	if has() {
		t.Fatal("item still served after its TTL")
	}
	if n.Stats().Items != 0 {
		t.Fatal("expired item still counted")
	}
}

func TestItemCapEvictsLeastRecentlyPut(t *testing.T) {
	n, fc := newTestNode(t, func(c *Config) { c.MaxItems = 3 })
	var items []bep44.Item
	for i := range 4 {
		it, err := bep44.NewImmutable([]byte("i" + string(rune('0'+i)) + "e"))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	for i, it := range items[:3] {
		wantCode(t, "put", ask(n, peerA, krpc.MethodPut, putArgs(it, tokenFor(t, n, peerA))), 0)
		fc.Advance(time.Second)
		_ = i
	}
	// Refresh item 0: item 1 becomes the least recently put.
	wantCode(t, "refresh", ask(n, peerA, krpc.MethodPut, putArgs(items[0], tokenFor(t, n, peerA))), 0)
	fc.Advance(time.Second)
	wantCode(t, "put over cap", ask(n, peerA, krpc.MethodPut, putArgs(items[3], tokenFor(t, n, peerA))), 0)
	if got := n.Stats().Items; got != 3 {
		t.Fatalf("%d items stored, cap 3", got)
	}
	for i, want := range []bool{true, false, true, true} {
		r := ask(n, peerA, krpc.MethodGet, &krpc.Args{Target: items[i].Target(), HasTarget: true})
		if (r.R.V != nil) != want {
			t.Errorf("item %d stored = %v, want %v", i, r.R.V != nil, want)
		}
	}
}

func TestTokenAcceptanceWindow(t *testing.T) {
	n, fc := newTestNode(t, nil)
	// Align to the start of a rotation period: worst case for the window.
	now := fc.Now()
	fc.Advance(time.Duration(TokenRotation.Seconds()-float64(now.Unix()%int64(TokenRotation.Seconds()))) * time.Second)
	tok := tokenFor(t, n, peerA)
	it := mutable(t, testKey(4), "", 1, "1:a")
	fc.Advance(9*time.Minute + 59*time.Second)
	wantCode(t, "put with a 9m59s old token", ask(n, peerA, krpc.MethodPut, putArgs(it, tok)), 0)
	fc.Advance(2 * time.Second)
	it2 := mutable(t, testKey(4), "", 2, "1:b")
	wantCode(t, "put with a 10m01s old token", ask(n, peerA, krpc.MethodPut, putArgs(it2, tok)), krpc.CodeProtocol)

	// A token issued at the very end of a period still lives through the next.
	fc.Advance(TokenRotation - time.Second - time.Duration(fc.Now().Unix()%int64(TokenRotation.Seconds()))*time.Second)
	tok = tokenFor(t, n, peerA)
	fc.Advance(TokenRotation)
	wantCode(t, "put with a token one period later", ask(n, peerA, krpc.MethodPut, putArgs(it2, tok)), 0)
}

func TestReplayRefusedAfterExpiry(t *testing.T) {
	n, fc := newTestNode(t, nil)
	priv := testKey(6)
	old, cur := mutable(t, priv, "db", 3, "1:a"), mutable(t, priv, "db", 4, "1:b")
	wantCode(t, "put seq 4", ask(n, peerA, krpc.MethodPut, putArgs(cur, tokenFor(t, n, peerA))), 0)
	fc.Advance(DefaultItemTTL + time.Minute)
	n.maintain() // expiry sweep (background work is off in tests)
	if n.Stats().Items != 0 {
		t.Fatal("item not expired")
	}
	wantCode(t, "replay of seq 3 after expiry", ask(n, peerA, krpc.MethodPut, putArgs(old, tokenFor(t, n, peerA))), bep44.CodeSeqTooLow)
	wantCode(t, "re-put of seq 4 after expiry", ask(n, peerA, krpc.MethodPut, putArgs(cur, tokenFor(t, n, peerA))), 0)
	fc.Advance(tombstoneTTLFactor*DefaultItemTTL + time.Minute)
	wantCode(t, "replay after the re-put expired as well", ask(n, peerA, krpc.MethodPut, putArgs(old, tokenFor(t, n, peerA))), bep44.CodeSeqTooLow)
}
