package swarm

import (
	"context"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/internal/dhttest"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/snapshot/versions"
)

// Issue 3's "done": one node snapshots a changing database into its
// versions store and seeds what the store keeps; the other fetches version
// after version by infohash alone (peers from our DHT over real UDP),
// receiving only the changed pieces, each copy complete and checked, and
// seeds the last five versions in turn.
func TestFollowVersionsThroughDHT(t *testing.T) {
	nodes := dhttest.Loopback(t, 8)
	newSwarm := func(n *dht.Node) *Swarm {
		s, err := New(Config{ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), DHT: n,
			DHTRetry: 100 * time.Millisecond, ProgressInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	openStore := func() *versions.Store {
		st, err := versions.Open(versions.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	pub, sub := newSwarm(nodes[6]), newSwarm(nodes[7])
	pubStore, subStore := openStore(), openStore()
	live := makeDB(t, t.TempDir(), 10000, 200) // about 2 MB
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	const rounds = 7
	for seq := int64(1); seq <= rounds; seq++ {
		if seq > 1 {
			updateRows(t, live, int(seq), 200, int(seq)*100)
		}
		v, _, err := pubStore.AddSnapshot(ctx, live, "data.db", seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.SeedStore(pubStore); err != nil {
			t.Fatal(err)
		}

		opts := FetchOptions{Name: "data.db", Dir: subStore.Dir()}
		var base versions.Version
		if list := subStore.List(); len(list) > 0 {
			base = list[0]
			opts.Base = &Version{Path: base.Path, Info: base.Info}
		}
		var evs events
		opts.Progress = evs.add
		path, err := sub.Fetch(ctx, v.InfoHash, opts)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		// Re-syncing with the store before the version is added keeps it.
		if err := sub.SeedStore(subStore); err != nil {
			t.Fatal(err)
		}
		if _, ok := sub.Seeding()[v.InfoHash]; !ok {
			t.Fatalf("seq %d: SeedStore dropped the version fetched but not yet added", seq)
		}
		info, ok := sub.Info(v.InfoHash)
		if !ok {
			t.Fatalf("seq %d: no info for the fetched version", seq)
		}
		got, _, err := subStore.Add(path, info, seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.SeedStore(subStore); err != nil {
			t.Fatal(err)
		}
		sameContent(t, got.Path, v.Path)
		if err := snapshot.Check(ctx, got.Path); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		last, _ := evs.last()
		t.Logf("seq %d: fetched in %v", seq, last.Elapsed)
		if opts.Base != nil {
			plan, err := snapshot.PlanDelta(base.Info, v.Info)
			if err != nil {
				t.Fatal(err)
			}
			want := plan.FetchBytes(v.Info)
			t.Logf("seq %d: %d bytes, %d pieces changed, received %d bytes", seq, v.Size, len(plan.Fetch), last.Received)
			if last.Received > want+64<<10 {
				t.Errorf("seq %d: received %d bytes for %d bytes of changed pieces", seq, last.Received, want)
			}
		}
	}
	for name, s := range map[string]*Swarm{"publisher": pub, "follower": sub} {
		seeding := s.Seeding()
		if len(seeding) != versions.DefaultKeep {
			t.Errorf("%s seeds %d versions, want %d", name, len(seeding), versions.DefaultKeep)
		}
	}
	for _, v := range subStore.List() {
		if p := sub.Seeding()[v.InfoHash]; p != v.Path {
			t.Errorf("follower seeds %s from %q, want the store's %q", v.InfoHash, p, v.Path)
		}
	}
}
