package interop

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"testing"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/internal/ltpeer"
)

// mixedNet starts nOurs of our nodes and nLT libtorrent peers that all know
// each other, and waits until every routing table is full.
func mixedNet(t *testing.T, nOurs, nLT int) ([]*dht.Node, []*ltpeer.Peer) {
	t.Helper()
	ctx := testCtx(t)
	ours := startOursN(t, nOurs, nil)
	lts := startLibtorrent(t, nLT, ltpeer.Config{})
	all := append(ourAddrs(ours), ltAddrs(lts)...)
	introduce(t, ctx, lts, all)
	joinOurs(t, ctx, ours, all, len(all)-1)
	waitTables(t, ctx, lts, len(all)-1)
	return ours, lts
}

// TestLibtorrentReadsOurPuts: our immutable put and our salted mutable puts
// (a new seq with cas) are read by libtorrent's dht_get_item, verbatim.
func TestLibtorrentReadsOurPuts(t *testing.T) {
	ctx := testCtx(t)
	ours, lts := mixedNet(t, 3, 3)

	v := pointerValue('i', 4096)
	imm, err := bep44.NewImmutable(v)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ours[0].Put(ctx, imm, dht.PutOptions{})
	if err != nil {
		t.Fatalf("our immutable put: %v (report %+v)", err, rep)
	}
	for i, lt := range lts {
		got, err := lt.GetImmutable(ctx, imm.Target())
		if err != nil {
			t.Fatalf("libtorrent %d: %v", i, err)
		}
		if !bytes.Equal(got, v) {
			t.Errorf("libtorrent %d read %q, want %q", i, got, v)
		}
	}

	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	salt := []byte("inventory")
	for seq := int64(1); seq <= 2; seq++ {
		mv := pointerValue(byte('a'+seq), int(seq)*4096)
		it, err := bep44.NewMutable(priv, salt, seq, mv)
		if err != nil {
			t.Fatal(err)
		}
		opts := dht.PutOptions{}
		if seq > 1 {
			opts = dht.PutOptions{CAS: seq - 1, HasCAS: true}
		}
		rep, err := ours[1].Put(ctx, it, opts)
		if err != nil {
			t.Fatalf("our mutable put seq %d: %v (report %+v)", seq, err, rep)
		}
		for i, lt := range lts {
			got, err := lt.GetMutable(ctx, pub, salt)
			if err != nil {
				t.Fatalf("libtorrent %d, seq %d: %v", i, seq, err)
			}
			if !bytes.Equal(got.V, mv) || got.Seq != seq || got.Sig != it.Sig {
				t.Errorf("libtorrent %d read v %q seq %d, want %q seq %d with our signature", i, got.V, got.Seq, mv, seq)
			}
		}
	}
}

// TestOursReadLibtorrentPuts: libtorrent's immutable put (which carries no
// seq) and its salted mutable put are stored by our nodes and read by our
// Get. Storage by our nodes is proven by stopping every libtorrent peer and
// reading again.
func TestOursReadLibtorrentPuts(t *testing.T) {
	ctx := testCtx(t)
	ours, lts := mixedNet(t, 3, 3)

	v := pointerValue('L', 8192)
	ires, err := lts[0].PutImmutable(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if ires.Target != sha1.Sum(v) || ires.Stored < 1 {
		t.Fatalf("libtorrent immutable put: %+v", ires)
	}
	priv := testKey(2)
	salt := []byte("from-libtorrent")
	mres, err := lts[1].PutMutable(ctx, priv, salt, []byte("libtorrent value"))
	if err != nil {
		t.Fatal(err)
	}
	if mres.Stored < 1 || mres.Seq != 1 {
		t.Fatalf("libtorrent mutable put: %+v", mres)
	}

	check := func(when string, reader *dht.Node) {
		t.Helper()
		got, err := reader.Get(ctx, dht.GetRequest{Target: ires.Target})
		if err != nil {
			t.Fatalf("%s: our immutable get: %v", when, err)
		}
		if !bytes.Equal(got.Item.V, v) || got.Item.Mutable {
			t.Errorf("%s: our get read %+v, want immutable %q", when, got.Item, v)
		}
		mg, err := reader.Get(ctx, dht.GetRequest{PublicKey: priv.Public().(ed25519.PublicKey), Salt: salt})
		if err != nil {
			t.Fatalf("%s: our mutable get: %v", when, err)
		}
		want := bstring("libtorrent value")
		if !bytes.Equal(mg.Item.V, want) || mg.Item.Seq != mres.Seq || mg.Item.Sig != mres.Sig || !bytes.Equal(mg.Item.Salt, salt) {
			t.Errorf("%s: our get read v %q seq %d, want %q seq %d with libtorrent's signature", when, mg.Item.V, mg.Item.Seq, want, mres.Seq)
		}
	}
	check("with libtorrent up", ours[2])

	before := itemsStored(ours)
	if before < 2 {
		t.Errorf("our nodes hold %d items, want libtorrent's two puts stored", before)
	}
	for _, lt := range lts {
		lt.Close()
	}
	check("libtorrent stopped", ours[0])
}

// TestOnlyLibtorrentStores: our node is the only client among libtorrent
// nodes, and every item lives on libtorrent nodes alone.
//
// The client is not BEP 43 read-only, although it could be: libtorrent 2.0.8
// adds any node that sends it a put with a valid token to its routing table
// (node_seen), ro=1 or not, and then waits for the read-only node, which
// never answers, in every later lookup (15 s per mutable get). A
// read-only dhtdb node works with libtorrent, but slows libtorrent's
// lookups down until libtorrent evicts it.
func TestOnlyLibtorrentStores(t *testing.T) {
	ctx := testCtx(t)
	lts := startLibtorrent(t, 5, ltpeer.Config{})
	introduce(t, ctx, lts, ltAddrs(lts))
	waitTables(t, ctx, lts, len(lts)-1)
	client := startOurs(t, nil)
	joinOurs(t, ctx, []*dht.Node{client}, ltAddrs(lts), len(lts))

	v := pointerValue('o', 1024)
	imm, err := bep44.NewImmutable(v)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := client.Put(ctx, imm, dht.PutOptions{})
	if err != nil {
		t.Fatalf("immutable put: %v (report %+v)", err, rep)
	}
	priv := testKey(3)
	salt := []byte("only-libtorrent")
	mv := pointerValue('m', 2048)
	mut, err := bep44.NewMutable(priv, salt, 7, mv)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := client.Put(ctx, mut, dht.PutOptions{}); err != nil {
		t.Fatalf("mutable put: %v (report %+v)", err, rep)
	}
	if n := client.Stats().Items; n != 0 {
		t.Errorf("our client holds %d items, want 0 (libtorrent stores)", n)
	}

	for i, lt := range lts {
		got, err := lt.GetImmutable(ctx, imm.Target())
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("libtorrent %d immutable: %q, %v; want %q", i, got, err, v)
		}
		it, err := lt.GetMutable(ctx, priv.Public().(ed25519.PublicKey), salt)
		if err != nil || !bytes.Equal(it.V, mv) || it.Seq != 7 {
			t.Errorf("libtorrent %d mutable: %q seq %d, %v; want %q seq 7", i, it.V, it.Seq, err, mv)
		}
	}
	// libtorrent's refusals reach our client as BEP 44 error codes: an older
	// seq (302) and a wrong cas (301); the stored item stays.
	old, err := bep44.NewMutable(priv, salt, 6, pointerValue('n', 1))
	if err != nil {
		t.Fatal(err)
	}
	rep, err = client.Put(ctx, old, dht.PutOptions{})
	if !errors.Is(err, dht.ErrNotStored) || !errors.Is(err, dht.ErrSeqTooLow) || rep.Rejected[bep44.CodeSeqTooLow] < 1 {
		t.Errorf("put of seq 6 over 7: %v (report %+v), want ErrSeqTooLow with code 302", err, rep)
	}
	next, err := bep44.NewMutable(priv, salt, 8, pointerValue('p', 1))
	if err != nil {
		t.Fatal(err)
	}
	rep, err = client.Put(ctx, next, dht.PutOptions{CAS: 5, HasCAS: true})
	if !errors.Is(err, dht.ErrNotStored) || !errors.Is(err, dht.ErrCASMismatch) || rep.Rejected[bep44.CodeCASMismatch] < 1 {
		t.Errorf("put with cas 5 over seq 7: %v (report %+v), want ErrCASMismatch with code 301", err, rep)
	}
	if it, err := lts[0].GetMutable(ctx, priv.Public().(ed25519.PublicKey), salt); err != nil || it.Seq != 7 {
		t.Errorf("after refused puts libtorrent has seq %d, %v; want 7", it.Seq, err)
	}

	// A get carrying seq: libtorrent answers seq alone when it holds no newer
	// value, and our Get reports the seq the caller already has.
	pub := priv.Public().(ed25519.PublicKey)
	same, err := client.Get(ctx, dht.GetRequest{PublicKey: pub, Salt: salt, MinSeq: 7})
	if err != nil || same.Item.Seq != 7 || len(same.Item.V) != 0 || same.Found < 1 {
		t.Errorf("get with seq 7 (held): %+v, %v; want seq 7 without v, found on at least 1", same, err)
	}
	if newer, err := client.Get(ctx, dht.GetRequest{PublicKey: pub, Salt: salt, MinSeq: 8}); !errors.Is(err, dht.ErrNotFound) {
		t.Errorf("get with seq 8 (none newer): %+v, %v; want ErrNotFound", newer, err)
	}

	got, err := client.Get(ctx, dht.GetRequest{Target: imm.Target()})
	if err != nil || !bytes.Equal(got.Item.V, v) || got.Found < 1 {
		t.Errorf("our get of the immutable item from libtorrent nodes: %+v, %v", got, err)
	}
	mg, err := client.Get(ctx, dht.GetRequest{PublicKey: priv.Public().(ed25519.PublicKey), Salt: salt})
	if err != nil || !bytes.Equal(mg.Item.V, mv) || mg.Item.Seq != 7 || mg.Found < 1 {
		t.Errorf("our get of the mutable item from libtorrent nodes: %+v, %v", mg, err)
	}
}

// TestOnlyOursStore: libtorrent is a read-only client (dht_read_only) among
// our nodes, so everything it puts lives on our nodes alone.
func TestOnlyOursStore(t *testing.T) {
	ctx := testCtx(t)
	ours := startOursN(t, 5, nil)
	joinOurs(t, ctx, ours, ourAddrs(ours), len(ours)-1)
	lt := ltpeer.StartTest(t, ltpeer.Config{ReadOnly: true})
	introduce(t, ctx, []*ltpeer.Peer{lt}, ourAddrs(ours))
	waitTables(t, ctx, []*ltpeer.Peer{lt}, len(ours))

	v := pointerValue('r', 512)
	ires, err := lt.PutImmutable(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	priv := testKey(4)
	salt := []byte("only-ours")
	mres, err := lt.PutMutable(ctx, priv, salt, []byte("kept by dhtdb"))
	if err != nil {
		t.Fatal(err)
	}
	if ires.Stored < 1 || mres.Stored < 1 {
		t.Fatalf("libtorrent puts stored on %d and %d of our nodes", ires.Stored, mres.Stored)
	}
	if n := itemsStored(ours); n < 2 {
		t.Errorf("our nodes hold %d items, want both of libtorrent's", n)
	}
	got, err := lt.GetImmutable(ctx, ires.Target)
	if err != nil || !bytes.Equal(got, v) {
		t.Errorf("libtorrent immutable get from our nodes: %q, %v; want %q", got, err, v)
	}
	it, err := lt.GetMutable(ctx, priv.Public().(ed25519.PublicKey), salt)
	if err != nil || !bytes.Equal(it.V, bstring("kept by dhtdb")) || it.Seq != mres.Seq {
		t.Errorf("libtorrent mutable get from our nodes: %q seq %d, %v", it.V, it.Seq, err)
	}
	og, err := ours[4].Get(ctx, dht.GetRequest{Target: ires.Target})
	if err != nil || !bytes.Equal(og.Item.V, v) {
		t.Errorf("our immutable get: %+v, %v", og, err)
	}
	mg, err := ours[3].Get(ctx, dht.GetRequest{PublicKey: priv.Public().(ed25519.PublicKey), Salt: salt})
	if err != nil || mg.Item.Seq != mres.Seq || mg.Item.Sig != mres.Sig {
		t.Errorf("our mutable get: %+v, %v", mg, err)
	}
}

// TestLimitsWithLibtorrent: items at BEP 44's limits (a 1000-byte v, a
// 64-byte salt) put by our node are accepted and served by libtorrent, and
// the other way round.
func TestLimitsWithLibtorrent(t *testing.T) {
	ctx := testCtx(t)
	ours, lts := mixedNet(t, 2, 3)
	body := bytes.Repeat([]byte{'L'}, bep44.MaxValueSize-len("996:"))
	v := append([]byte("996:"), body...)
	if len(v) != bep44.MaxValueSize {
		t.Fatalf("test value is %d bytes", len(v))
	}
	salt := bytes.Repeat([]byte{'s'}, bep44.MaxSaltSize)
	priv := testKey(7)
	it, err := bep44.NewMutable(priv, salt, 1, v)
	if err != nil {
		t.Fatal(err)
	}
	imm, err := bep44.NewImmutable(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []bep44.Item{it, imm} {
		if rep, err := ours[0].Put(ctx, item, dht.PutOptions{}); err != nil {
			t.Fatalf("our put (mutable %v): %v (report %+v)", item.Mutable, err, rep)
		}
	}
	got, err := lts[1].GetMutable(ctx, priv.Public().(ed25519.PublicKey), salt)
	if err != nil || !bytes.Equal(got.V, v) || got.Seq != 1 {
		t.Errorf("libtorrent mutable get: %d bytes seq %d, %v; want %d bytes seq 1", len(got.V), got.Seq, err, len(v))
	}
	gi, err := lts[2].GetImmutable(ctx, imm.Target())
	if err != nil || !bytes.Equal(gi, v) {
		t.Errorf("libtorrent immutable get: %d bytes, %v; want %d bytes", len(gi), err, len(v))
	}
	ltKey := testKey(8)
	res, err := lts[0].PutMutable(ctx, ltKey, salt, body)
	if err != nil || res.Stored < 1 {
		t.Fatalf("libtorrent put at the limits: %+v, %v", res, err)
	}
	mg, err := ours[1].Get(ctx, dht.GetRequest{PublicKey: ltKey.Public().(ed25519.PublicKey), Salt: salt})
	if err != nil || !bytes.Equal(mg.Item.V, v) || mg.Item.Seq != res.Seq {
		t.Errorf("our get of libtorrent's item at the limits: %d bytes seq %d, %v", len(mg.Item.V), mg.Item.Seq, err)
	}
}
