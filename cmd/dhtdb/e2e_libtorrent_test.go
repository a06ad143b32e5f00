package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/internal/ltpeer"
	"github.com/dhtdb/dhtdb/keyfile"
)

// TestEndToEndLibtorrent runs the dht commands against a network made only
// of libtorrent 2.0.8 nodes on loopback: what libtorrent puts, the CLI reads;
// what the CLI puts, libtorrent reads.
//
// Order matters for the test's speed, not its outcome: libtorrent adds a
// node that sent it a put to its routing table, and once that dhtdb process
// has exited, every later libtorrent lookup waits for it to time out (about
// 15 s). So libtorrent puts first, and its two reads at the end run at once.
func TestEndToEndLibtorrent(t *testing.T) {
	dhtdbBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lts := make([]*ltpeer.Peer, 5)
	var boot []string
	for i := range lts {
		lts[i] = ltpeer.StartTest(t, ltpeer.Config{})
		boot = append(boot, lts[i].Addr().String())
	}
	for _, p := range lts {
		for _, q := range lts {
			if p != q {
				if err := p.AddNode(ctx, q.Addr()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for i, p := range lts {
		if _, err := p.WaitNodes(ctx, len(lts)-1); err != nil {
			t.Fatalf("libtorrent %d: %v", i, err)
		}
	}
	net := []string{"--bootstrap", strings.Join(boot, ","), "--json"}
	key := filepath.Join(t.TempDir(), "k")
	var kg keygenResult
	ok(t, &kg, nil, "keygen", "--no-passphrase", "--out", key, "--json")
	priv, err := keyfile.Load(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	salt := []byte("lt-db")

	// libtorrent puts, the CLI reads.
	ip, err := lts[0].PutImmutable(ctx, []byte("13:libtorrent v1"))
	if err != nil {
		t.Fatal(err)
	}
	lp, err := lts[1].PutMutable(ctx, priv, salt, []byte("from libtorrent"))
	if err != nil || lp.Seq != 1 {
		t.Fatalf("libtorrent mutable put: %+v, %v", lp, err)
	}
	var ig getResult
	ok(t, &ig, nil, append([]string{"dht", "get", hex.EncodeToString(ip.Target[:])}, net...)...)
	if ig.Value == nil || *ig.Value != "libtorrent v1" {
		t.Fatalf("CLI get of libtorrent's immutable put: %+v", ig)
	}
	var mg getResult
	ok(t, &mg, nil, append([]string{"dht", "get", "dhtdb://" + kg.PublicKey + "/lt-db"}, net...)...)
	if mg.Value == nil || *mg.Value != "from libtorrent" || *mg.Seq != 1 {
		t.Fatalf("CLI get of libtorrent's mutable put: %+v", mg)
	}

	// The CLI puts (its seq follows libtorrent's), libtorrent reads.
	var put putResult
	ok(t, &put, nil, append([]string{"dht", "put", "from dhtdb"}, net...)...)
	if put.Stored < 1 {
		t.Fatalf("immutable put on libtorrent nodes: %+v", put)
	}
	var mp putResult
	ok(t, &mp, nil, append([]string{"dht", "put", "--key", key, "--salt", "lt-db", "from dhtdb"}, net...)...)
	if mp.Stored < 1 || *mp.Seq != 2 {
		t.Fatalf("mutable put on libtorrent nodes: %+v", mp)
	}
	target, _ := hex.DecodeString(put.Target)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		v, err := lts[2].GetImmutable(ctx, [20]byte(target))
		if err != nil || string(v) != "10:from dhtdb" {
			t.Errorf("libtorrent get of the CLI's immutable put: %q, %v", v, err)
		}
	}()
	go func() {
		defer wg.Done()
		it, err := lts[3].GetMutable(ctx, pub, salt)
		if err != nil || string(it.V) != "10:from dhtdb" || it.Seq != 2 {
			t.Errorf("libtorrent get of the CLI's mutable put: %q seq %d, %v", it.V, it.Seq, err)
		}
	}()
	wg.Wait()
}
