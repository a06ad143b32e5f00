package interop

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	anadht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/exts/getput"
	"github.com/anacrolix/torrent/bencode"

	"github.com/dhtdb/dhtdb/internal/ltpeer"
)

// TestHarnessLibtorrentAnacrolix checks the two reference implementations
// against each other, without our code: when a mixed test fails, this one
// tells whether the harness (the libtorrent driver, the anacrolix set-up)
// is at fault. Only salted mutable items are exchanged: anacrolix refuses
// libtorrent's immutable puts (no seq, error 203), a bug of its own.
func TestHarnessLibtorrentAnacrolix(t *testing.T) {
	ctx := testCtx(t)
	lts := startLibtorrent(t, 3, ltpeer.Config{})
	ana := startAnacrolix(t, ltAddrs(lts))
	ana2 := startAnacrolix(t, ltAddrs(lts))
	all := append(ltAddrs(lts), anaAddr(ana), anaAddr(ana2))
	introduce(t, ctx, lts, all)
	for _, s := range []*anadht.Server{ana, ana2} {
		for _, a := range all {
			if a == anaAddr(s) {
				continue
			}
			if _, err := anaPing(s, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitTables(t, ctx, lts, len(all)-1)

	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	pub := [32]byte(priv.Public().(ed25519.PublicKey))
	salt := []byte("harness")

	// libtorrent puts, anacrolix gets.
	res, err := lts[0].PutMutable(ctx, priv, salt, []byte("from libtorrent"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored < 1 {
		t.Fatalf("libtorrent put stored on %d nodes", res.Stored)
	}
	got, _, err := getput.Get(ctx, bep44.MakeMutableTarget(pub, salt), ana, nil, salt)
	if err != nil {
		t.Fatalf("anacrolix get: %v", err)
	}
	if !bytes.Equal(got.V, bstring("from libtorrent")) || got.Seq != res.Seq {
		t.Errorf("anacrolix got %q seq %d, want %q seq %d", got.V, got.Seq, bstring("from libtorrent"), res.Seq)
	}

	// anacrolix puts a dictionary (what a dhtdb pointer is), libtorrent gets.
	v := bencode.Bytes("d2:ih20:aaaaaaaaaaaaaaaaaaaa4:sizei4096ee")
	_, err = getput.Put(ctx, bep44.MakeMutableTarget(pub, salt), ana2, salt, func(seq int64) bep44.Put {
		p := bep44.Put{V: v, K: &pub, Salt: salt, Seq: seq + 1}
		p.Sign(priv)
		return p
	})
	if err != nil {
		t.Fatalf("anacrolix put: %v", err)
	}
	// getput.Put reports success even when nothing was stored (a known bug),
	// so the proof is libtorrent reading it back.
	it, err := lts[2].GetMutable(ctx, priv.Public().(ed25519.PublicKey), salt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(it.V, v) || it.Seq != res.Seq+1 {
		t.Errorf("libtorrent got %q seq %d, want %q seq %d", it.V, it.Seq, v, res.Seq+1)
	}
}
