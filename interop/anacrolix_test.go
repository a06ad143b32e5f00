package interop

// Tests against anacrolix/dht v2.24.0, in process on real loopback UDP.
//
// Its known bugs, and what these tests do about each:
//   - one SendLimiter shared by every server in the process: startAnacrolix
//     gives each server its own, unlimited one;
//   - it refuses an immutable put without seq (error 203, "expected seq
//     argument"), which is what libtorrent and our node send: our immutable
//     puts are stored by our nodes only, so immutable items are exchanged
//     only in networks where ours store, or put by anacrolix itself (it
//     sends seq 0);
//   - its CAS check compares against the wrong field: no put toward it
//     carries cas;
//   - getput.Put returns success even when every node rejected the put: its
//     puts are proven by reading them back (and by our nodes' item counts),
//     never by its return value;
//   - getput.Get waits for the whole traversal to stall: harmless on a few
//     nodes, and bounded by the test's context;
//   - it counts IPv4 nodes twice through nodes6 (::ffff:), so its put
//     reaches fewer nodes than it should: no test counts its stores;
//   - its in-memory peer store returns garbage addresses: no get_peers or
//     announce_peer here.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha1"
	"net"
	"net/netip"
	"testing"

	anadht "github.com/anacrolix/dht/v2"
	anabep44 "github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/exts/getput"
	"github.com/anacrolix/dht/v2/int160"
	"github.com/anacrolix/torrent/bencode"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht"
)

// anaNet starts nOurs of our nodes and nAna anacrolix servers that know
// each other. With readOnly, our nodes are BEP 43 read-only clients: they
// answer nothing, so no one pings them and they know only anacrolix.
func anaNet(t *testing.T, nOurs, nAna int, readOnly bool) ([]*dht.Node, []*anadht.Server) {
	t.Helper()
	ctx := testCtx(t)
	ours := startOursN(t, nOurs, func(c *dht.Config) { c.ReadOnly = readOnly })
	var serving []netip.AddrPort // nodes that answer queries
	if !readOnly {
		serving = ourAddrs(ours)
	}
	anas := make([]*anadht.Server, nAna)
	for i := range anas {
		anas[i] = startAnacrolix(t, serving)
	}
	for _, s := range anas {
		serving = append(serving, anaAddr(s))
	}
	for _, s := range anas {
		for _, a := range serving {
			if a == anaAddr(s) {
				continue
			}
			if _, err := anaPing(s, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := len(serving) - 1
	if readOnly {
		want = len(serving)
	}
	joinOurs(t, ctx, ours, serving, want)
	return ours, anas
}

// TestAnacrolixQueriesOurNode: anacrolix pings our node and asks it
// find_node; our node pings anacrolix.
func TestAnacrolixQueriesOurNode(t *testing.T) {
	ctx := testCtx(t)
	ours, anas := anaNet(t, 3, 1, false)
	ana := anas[0]

	id, err := anaPing(ana, ours[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	if id != ours[0].ID() {
		t.Errorf("ping answered with id %x, want %x", id, ours[0].ID())
	}

	target := sha1.Sum([]byte("somewhere"))
	res := ana.FindNode(anadht.NewAddr(net.UDPAddrFromAddrPort(ours[0].Addr())), int160.FromByteArray(target), anadht.QueryRateLimiting{})
	if err := res.ToError(); err != nil {
		t.Fatalf("find_node: %v", err)
	}
	if res.Reply.R == nil || res.Reply.R.ID != ours[0].ID() {
		t.Fatalf("find_node reply %+v", res.Reply)
	}
	found := map[[20]byte]bool{}
	for _, ni := range res.Reply.R.Nodes {
		found[ni.ID] = true
	}
	for _, n := range ours[1:] {
		if !found[n.ID()] {
			t.Errorf("find_node reply lacks our node %x (got %d nodes)", n.ID(), len(res.Reply.R.Nodes))
		}
	}

	if got, err := ours[1].Ping(ctx, anaAddr(ana)); err != nil || got != ana.ID() {
		t.Errorf("our ping of anacrolix: id %x, %v; want %x", got, err, ana.ID())
	}
}

// TestAnacrolixGetPutMixed: in a network of our nodes and anacrolix
// servers, anacrolix reads our puts, and our nodes store and serve its puts.
func TestAnacrolixGetPutMixed(t *testing.T) {
	ctx := testCtx(t)
	ours, anas := anaNet(t, 3, 3, false)

	// Our mutable put, read by anacrolix.
	priv := testKey(5)
	pub := [32]byte(priv.Public().(ed25519.PublicKey))
	salt := []byte("mixed")
	mv := pointerValue('x', 300)
	mut, err := bep44.NewMutable(priv, salt, 1, mv)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := ours[0].Put(ctx, mut, dht.PutOptions{}); err != nil {
		t.Fatalf("our mutable put: %v (report %+v)", err, rep)
	}
	got, _, err := getput.Get(ctx, anabep44.MakeMutableTarget(pub, salt), anas[0], nil, salt)
	if err != nil {
		t.Fatalf("anacrolix get: %v", err)
	}
	if !bytes.Equal(got.V, mv) || got.Seq != 1 || got.Sig != mut.Sig {
		t.Errorf("anacrolix read %q seq %d, want %q seq 1 with our signature", got.V, got.Seq, mv)
	}

	// Our immutable put: anacrolix refuses it (no seq), our nodes keep it,
	// and anacrolix reads it from them.
	v := pointerValue('y', 600)
	imm, err := bep44.NewImmutable(v)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ours[1].Put(ctx, imm, dht.PutOptions{})
	if err != nil {
		t.Fatalf("our immutable put: %v (report %+v)", err, rep)
	}
	t.Logf("our immutable put: stored %d, rejected %v (anacrolix answers 203 to a put without seq)", rep.Stored, rep.Rejected)
	gi, _, err := getput.Get(ctx, imm.Target(), anas[1], nil, nil)
	if err != nil || !bytes.Equal(gi.V, v) {
		t.Errorf("anacrolix immutable get: %q, %v; want %q", gi.V, err, v)
	}

	// anacrolix's mutable and immutable puts, stored by ours, read by our Get.
	before := itemsStored(ours)
	av := bencode.Bytes(pointerValue('z', 900))
	asalt := []byte("from-anacrolix")
	if _, err := getput.Put(ctx, anabep44.MakeMutableTarget(pub, asalt), anas[2], asalt, func(int64) anabep44.Put {
		p := anabep44.Put{V: av, K: &pub, Salt: asalt, Seq: 5}
		p.Sign(priv)
		return p
	}); err != nil {
		t.Fatalf("anacrolix mutable put: %v", err)
	}
	iv := bencode.Bytes("12:anacrolix-iv")
	if _, err := getput.Put(ctx, sha1.Sum(iv), anas[2], nil, func(int64) anabep44.Put {
		return anabep44.Put{V: iv}
	}); err != nil {
		t.Fatalf("anacrolix immutable put: %v", err)
	}
	waitFor(t, ctx, "our nodes to store anacrolix's two puts", func() bool {
		return itemsStored(ours) >= before+2
	})
	mg, err := ours[2].Get(ctx, dht.GetRequest{PublicKey: pub[:], Salt: asalt})
	if err != nil || !bytes.Equal(mg.Item.V, av) || mg.Item.Seq != 5 {
		t.Errorf("our get of anacrolix's mutable item: %+v, %v", mg.Item, err)
	}
	ig, err := ours[0].Get(ctx, dht.GetRequest{Target: sha1.Sum(iv)})
	if err != nil || !bytes.Equal(ig.Item.V, iv) {
		t.Errorf("our get of anacrolix's immutable item: %+v, %v", ig.Item, err)
	}
}

// TestAnacrolixOnlyStores: our node is a read-only client among anacrolix
// servers. Our mutable put is stored by them and read back by our Get and
// by theirs; an item anacrolix put (immutable, which its get answers with a
// zero k, sig and seq beside v) is read by our Get.
func TestAnacrolixOnlyStores(t *testing.T) {
	ctx := testCtx(t)
	ours, anas := anaNet(t, 1, 4, true)
	client := ours[0]

	priv := testKey(6)
	pub := [32]byte(priv.Public().(ed25519.PublicKey))
	salt := []byte("only-anacrolix")
	mv := pointerValue('q', 123)
	mut, err := bep44.NewMutable(priv, salt, 3, mv)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := client.Put(ctx, mut, dht.PutOptions{})
	if err != nil {
		t.Fatalf("our mutable put: %v (report %+v)", err, rep)
	}
	mg, err := client.Get(ctx, dht.GetRequest{PublicKey: pub[:], Salt: salt})
	if err != nil || !bytes.Equal(mg.Item.V, mv) || mg.Item.Seq != 3 || mg.Found < 1 {
		t.Errorf("our get from anacrolix nodes: %+v, %v", mg, err)
	}
	got, _, err := getput.Get(ctx, anabep44.MakeMutableTarget(pub, salt), anas[3], nil, salt)
	if err != nil || !bytes.Equal(got.V, mv) || got.Seq != 3 {
		t.Errorf("anacrolix get: %q seq %d, %v", got.V, got.Seq, err)
	}

	iv := bencode.Bytes("d1:ai1ee")
	if _, err := getput.Put(ctx, sha1.Sum(iv), anas[0], nil, func(int64) anabep44.Put {
		return anabep44.Put{V: iv}
	}); err != nil {
		t.Fatalf("anacrolix immutable put: %v", err)
	}
	ig, err := client.Get(ctx, dht.GetRequest{Target: sha1.Sum(iv)})
	if err != nil || !bytes.Equal(ig.Item.V, iv) || ig.Item.Mutable {
		t.Errorf("our get of anacrolix's immutable item: %+v, %v", ig.Item, err)
	}
	if n := client.Stats().Items; n != 0 {
		t.Errorf("read-only client holds %d items, want 0", n)
	}
}
