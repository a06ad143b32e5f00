package daemon

import (
	"context"
	"sync"
	"testing"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
)

// lateGets is a fakeDHT whose gets, once armed for a minSeq, answer with
// what the nodes held when asked but only when released: a poll sent before
// a publish and answered after it.
type lateGets struct {
	*fakeDHT
	asked   chan struct{} // a held get has its answer
	release chan struct{}

	mu     sync.Mutex
	holdAt int64         // hold the next get with this minSeq (0: none)
	gets   map[int64]int // gets asked, by minSeq
}

func (g *lateGets) Get(ctx context.Context, addr record.Address, minSeq int64) (bep44.Item, int, error) {
	it, found, err := g.fakeDHT.Get(ctx, addr, minSeq)
	g.mu.Lock()
	g.gets[minSeq]++
	hold := g.holdAt != 0 && g.holdAt == minSeq
	if hold {
		g.holdAt = 0
	}
	g.mu.Unlock()
	if hold {
		g.asked <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return bep44.Item{}, 0, ctx.Err()
		}
	}
	return it, found, err
}

func (g *lateGets) count(minSeq int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gets[minSeq]
}

// TestOwnPublishIsNotAReplay: a writer with the journal polls with MinSeq 1;
// it publishes seq 2 while the poll is out, and the poll then answers seq 1
// (the nodes held it when asked; without a value, BEP 44). That is no
// replay: nothing is counted or reported, and seq 2 is put again.
func TestOwnPublishIsNotAReplay(t *testing.T) {
	n := newTestNet(t)
	g := &lateGets{fakeDHT: n.dht, asked: make(chan struct{}), release: make(chan struct{}), gets: map[int64]int{}}
	s, err := db.Open(db.Config{Dir: t.TempDir(), Journal: true, Publish: db.PublishConfig{Snapshotter: n.swarm,
		Seeder: n.swarm, Putter: n.dht, Getter: n.dht, Fetcher: swarmFetcher{n.swarm}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := NewRunner(RunnerConfig{Store: s, Pointers: g, Transfers: n.swarm, Sync: fast()}) // no Key: publishes only when asked
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, err := s.Create("own", n.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(a); err != nil {
		t.Fatal(err)
	}
	d, _ := s.DB(a)
	exec(t, d, "CREATE TABLE t(k INTEGER PRIMARY KEY)")
	if rep, err := r.Publish(context.Background(), a, n.key); err != nil || rep.Seq != 1 {
		t.Fatalf("first publish: %+v %v, want seq 1", rep, err)
	}

	g.mu.Lock()
	g.holdAt = 1
	g.mu.Unlock()
	<-g.asked // a poll with MinSeq 1 is out; the nodes hold seq 1
	exec(t, d, "INSERT INTO t VALUES (1)")
	rep, err := r.Publish(context.Background(), a, n.key)
	if err != nil || rep.Seq != 2 {
		t.Fatalf("second publish: %+v %v, want seq 2", rep, err)
	}
	n.dht.mu.Lock()
	puts := n.dht.puts
	n.dht.mu.Unlock()
	close(g.release)

	// The next poll asks for seq 2: the late answer has been handled.
	eventually(t, "a poll with MinSeq 2", func() bool { return g.count(2) > 0 })
	eventually(t, "seq 2 put again", func() bool {
		n.dht.mu.Lock()
		defer n.dht.mu.Unlock()
		return n.dht.puts > puts
	})
	if m := r.Metrics().Replays.Load(); m != 0 {
		t.Errorf("replays counted: %d, want 0", m)
	}
	st, err := r.Status(a)
	if err != nil {
		t.Fatal(err)
	}
	if st.Seq != 2 || st.LastNotice == "replay" {
		t.Errorf("status %+v, want seq 2 and no replay notice", st)
	}
}
