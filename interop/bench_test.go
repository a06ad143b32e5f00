package interop

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/internal/ltpeer"
)

// BenchmarkMixedNetwork measures, on one loopback network of 8 of our nodes
// and 8 libtorrent peers, a salted mutable get and put by our node and by
// libtorrent, each storing to / reading from both kinds of nodes:
//
//	go test -run '^$' -bench Mixed ./interop/
//
// libtorrent's figures include the JSON round trip to its process (well
// under a millisecond). stored/op is the nodes that acknowledged a put (our
// report's Stored, libtorrent's num_success); found/op the closest nodes our
// get found the item on.
func BenchmarkMixedNetwork(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ours, lts := benchNet(b, ctx, 8, 8)
	priv := testKey(9)
	pub := priv.Public().(ed25519.PublicKey)
	salt := []byte("bench")
	v := pointerValue('b', 1<<20)

	var seq int64
	b.Run("ours/put", func(b *testing.B) {
		stored := 0
		for i := 0; i < b.N; i++ {
			seq++
			it, err := bep44.NewMutable(priv, salt, seq, v)
			if err != nil {
				b.Fatal(err)
			}
			rep, err := ours[i%len(ours)].Put(ctx, it, dht.PutOptions{})
			if err != nil {
				b.Fatal(err)
			}
			stored += rep.Stored
		}
		b.ReportMetric(float64(stored)/float64(b.N), "stored/op")
	})
	b.Run("ours/get", func(b *testing.B) {
		found := 0
		for i := 0; i < b.N; i++ {
			got, err := ours[i%len(ours)].Get(ctx, dht.GetRequest{PublicKey: pub, Salt: salt})
			if err != nil {
				b.Fatal(err)
			}
			found += got.Found
		}
		b.ReportMetric(float64(found)/float64(b.N), "found/op")
	})
	ltKey := testKey(10)
	b.Run("libtorrent/put", func(b *testing.B) {
		stored := 0
		for i := 0; i < b.N; i++ {
			res, err := lts[i%len(lts)].PutMutable(ctx, ltKey, salt, []byte("libtorrent bench value"))
			if err != nil {
				b.Fatal(err)
			}
			stored += res.Stored
		}
		b.ReportMetric(float64(stored)/float64(b.N), "stored/op")
	})
	b.Run("libtorrent/get", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := lts[i%len(lts)].GetMutable(ctx, ltKey.Public().(ed25519.PublicKey), salt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchNet is mixedNet for benchmarks.
func benchNet(b *testing.B, ctx context.Context, nOurs, nLT int) ([]*dht.Node, []*ltpeer.Peer) {
	b.Helper()
	ours := startOursN(b, nOurs, nil)
	lts := startLibtorrent(b, nLT, ltpeer.Config{})
	all := append(ourAddrs(ours), ltAddrs(lts)...)
	introduce(b, ctx, lts, all)
	// With 16 nodes a routing table need not hold all 15 others (a far bucket
	// keeps k = 8); 8 is enough for every lookup to reach the closest.
	joinOurs(b, ctx, ours, all, 8)
	waitTables(b, ctx, lts, 8)
	return ours, lts
}
