package db

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// memPointers reads pointers from a memDHT like dht.Get: the highest seq;
// at equal seq (a split) the value more nodes hold, then the smaller
// signature, then the smaller value.
type memPointers struct{ m *memDHT }

func (p memPointers) Get(ctx context.Context, addr record.Address, minSeq int64) (bep44.Item, int, error) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	target := addr.Target()
	count := map[string]int{}
	items := map[string]bep44.Item{}
	for _, node := range p.m.nodes {
		if it, ok := node[target]; ok && it.Seq >= minSeq {
			k := string(it.Sig[:]) + string(it.V)
			count[k]++
			items[k] = it
		}
	}
	var best bep44.Item
	bestN, found := 0, false
	for k, it := range items {
		n := count[k]
		better := !found || it.Seq > best.Seq || it.Seq == best.Seq && (n > bestN || n == bestN &&
			(bytes.Compare(it.Sig[:], best.Sig[:]) < 0 || bytes.Equal(it.Sig[:], best.Sig[:]) && bytes.Compare(it.V, best.V) < 0))
		if better {
			best, bestN, found = it, n, true
		}
	}
	if !found {
		return bep44.Item{}, 0, fmt.Errorf("%w: memDHT", ErrNoPointer)
	}
	return best, bestN, nil
}

// memFetcher fetches versions from what the writers seeded.
type memFetcher struct{ s *memSeeder }

func (f memFetcher) Fetch(ctx context.Context, d *DB, ih, base syncer.Hash, hasBase bool) (string, error) {
	f.s.mu.Lock()
	v, ok := f.s.seeded[ih]
	f.s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("version %s: no seeder", ih)
	}
	in, err := os.Open(v.Path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(d.VersionsDir(), "fetched-*")
	if err != nil {
		return "", err
	}
	defer out.Close()
	_, err = io.Copy(out, in)
	return out.Name(), err
}

// racePutter runs before once, just before the first put it is asked for.
type racePutter struct {
	Putter
	before func()
	done   bool
}

func (p *racePutter) Put(ctx context.Context, it bep44.Item, cas int64, hasCAS bool) (PutResult, error) {
	if !p.done {
		p.done = true
		p.before()
	}
	return p.Putter.Put(ctx, it, cas, hasCAS)
}

// journaledWriter opens a store in its own data directory, a writer of the
// database name with key, publishing through dht.
func journaledWriter(t *testing.T, dht *memDHT, seeder *memSeeder, key ed25519.PrivateKey, pol journal.Policy) *DB {
	t.Helper()
	s, err := Open(Config{Dir: t.TempDir(), Journal: true, JournalPolicy: pol, Publish: PublishConfig{
		Snapshotter: fileSnapshotter{}, Seeder: seeder, Putter: dht, Getter: memPointers{dht}, Fetcher: memFetcher{seeder}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr, err := s.Create("shared", key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.DB(addr)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustCatchUp(t *testing.T, d *DB) CatchUpReport {
	t.Helper()
	rep, err := d.CatchUp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustPublish(t *testing.T, d *DB, key ed25519.PrivateKey) PublishReport {
	t.Helper()
	rep, err := d.Publish(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func count(t *testing.T, d *DB, q string) int64 {
	t.Helper()
	rows, err := d.Query(context.Background(), q)
	if err != nil || len(rows.Rows) != 1 {
		t.Fatalf("%s: %v %v", q, rows, err)
	}
	return rows.Rows[0][0].(int64)
}

// Two writers with one key: the loser of a cas race catches up, rebases and
// publishes again; both end with every write published.
func TestJournaledPublishLoserRebases(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, "")
	b := journaledWriter(t, e.dht, e.seeder, e.key, "")
	mustExec(t, a, "CREATE TABLE log(w TEXT, i INTEGER, PRIMARY KEY(w, i))")
	if rep := mustPublish(t, a, e.key); rep.Seq != 1 || rep.Pending != 0 || len(rep.Published) != 1 {
		t.Fatalf("first publish: %+v", rep)
	}
	if rep := mustCatchUp(t, b); !rep.Rebased || rep.Seq != 1 {
		t.Fatalf("b's catch-up: %+v", rep)
	}
	for i := range 3 {
		mustExec(t, a, "INSERT INTO log VALUES('a', ?)", i)
		mustExec(t, b, "INSERT INTO log VALUES('b', ?)", i)
	}
	if rep := mustPublish(t, a, e.key); rep.Seq != 2 || rep.Attempts != 1 {
		t.Fatalf("a's publish: %+v", rep)
	}
	// b built on seq 1; a publishes seq 2 between b's catch-up and b's put:
	// b's put loses the cas, b catches up again and wins seq 3.
	b.store.cfg.Publish.Putter = &racePutter{Putter: e.dht, before: func() { mustPublish(t, a, e.key) }}
	mustExec(t, a, "INSERT INTO log VALUES('a', 3)")
	rep := mustPublish(t, b, e.key)
	if rep.Seq != 4 || rep.Attempts != 2 || rep.Pending != 0 || len(rep.Published) != 3 {
		t.Fatalf("b's publish: %+v", rep)
	}
	if n := count(t, b, "SELECT COUNT(*) FROM log"); n != 7 {
		t.Fatalf("b's copy holds %d rows, want 7", n)
	}
	if cu := mustCatchUp(t, a); !cu.Rebased || cu.Seq != 4 {
		t.Fatalf("a's catch-up: %+v", cu)
	}
	if n := count(t, a, "SELECT COUNT(*) FROM log"); n != 7 {
		t.Fatalf("a's copy holds %d rows, want 7", n)
	}
	if p, _ := a.Journal().Pending(); len(p) != 0 {
		t.Fatalf("a's pending: %+v", p)
	}
}

// The same row changed by two writers: the later write wins, and both
// writers are told (the loser of the race in its publish report, the other
// when it catches up with the version that decided it).
func TestJournaledConflictReportedToBoth(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, "")
	b := journaledWriter(t, e.dht, e.seeder, e.key, "")
	mustExec(t, a, "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES('row', 'orig')")
	mustPublish(t, a, e.key)
	mustCatchUp(t, b)
	mustExec(t, a, "UPDATE kv SET v = 'a' WHERE k = 'row'")
	mustExec(t, b, "UPDATE kv SET v = 'b' WHERE k = 'row'") // later (real clock, after a's)
	mustPublish(t, a, e.key)
	rep := mustPublish(t, b, e.key)
	if len(rep.Conflicts) != 1 || rep.Conflicts[0].Kind != journal.KindUpdateUpdate || rep.Conflicts[0].Decision != journal.DecisionOurs {
		t.Fatalf("b's report: %+v", rep.Conflicts)
	}
	cu := mustCatchUp(t, a)
	if len(cu.Conflicts) != 1 || cu.Conflicts[0].Theirs != rep.Conflicts[0].Theirs || cu.Conflicts[0].Ours != rep.Conflicts[0].Ours {
		t.Fatalf("a's catch-up conflicts: %+v, want %+v", cu.Conflicts, rep.Conflicts)
	}
	for _, d := range []*DB{a, b} {
		rows, err := d.Query(context.Background(), "SELECT v FROM kv WHERE k = 'row'")
		if err != nil || rows.Rows[0][0] != "b" {
			t.Fatalf("row: %v %v, want b", rows, err)
		}
	}
}

// A writer offline for 20 writes while another publishes 20 versions: on
// reconnecting (its next publish) all 40 are in.
func TestJournaledOfflineWriter(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, "")
	b := journaledWriter(t, e.dht, e.seeder, e.key, "")
	mustExec(t, a, "CREATE TABLE log(w TEXT, i INTEGER, PRIMARY KEY(w, i))")
	mustPublish(t, a, e.key)
	mustCatchUp(t, b)
	for i := range 20 {
		mustExec(t, b, "INSERT INTO log VALUES('offline', ?)", i)
		mustExec(t, a, "INSERT INTO log VALUES('online', ?)", i)
		mustPublish(t, a, e.key)
	}
	rep := mustPublish(t, b, e.key)
	if rep.Pending != 0 || len(rep.Published) != 20 {
		t.Fatalf("offline writer's publish: pending %d, published %d", rep.Pending, len(rep.Published))
	}
	mustCatchUp(t, a)
	if n := count(t, a, "SELECT COUNT(*) FROM log"); n != 40 {
		t.Fatalf("%d rows, want 40", n)
	}
}

// Three writers publishing at random moments, concurrently, with no
// coordination but the cas on the pointer: every write ends published.
func TestJournaledConcurrentWriters(t *testing.T) {
	const writers, commits = 3, 15
	e := newTestEnv(t)
	ws := make([]*DB, writers)
	for i := range ws {
		ws[i] = journaledWriter(t, e.dht, e.seeder, e.key, "")
	}
	mustExec(t, ws[0], "CREATE TABLE log(w INTEGER, i INTEGER, PRIMARY KEY(w, i))")
	mustPublish(t, ws[0], e.key)
	for _, w := range ws[1:] {
		mustCatchUp(t, w)
	}
	var wg sync.WaitGroup
	for wi, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(wi), 3))
			for i := range commits {
				if _, err := w.Exec(context.Background(), "INSERT INTO log VALUES(?, ?)", wi, i); err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(2) == 0 || i == commits-1 {
					for {
						_, err := w.Publish(context.Background(), e.key)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrConflict) {
							t.Error(err)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, w := range ws {
		mustCatchUp(t, w)
		if n := count(t, w, "SELECT COUNT(*) FROM log"); n != writers*commits {
			t.Errorf("writer %d holds %d rows, want %d", i, n, writers*commits)
		}
		if p, _ := w.Journal().Pending(); len(p) != 0 {
			t.Errorf("writer %d: %d writes not published", i, len(p))
		}
	}
}

// A split pointer (two values at one seq on different nodes, as after a
// race across a partition): everyone reads the same one by the dht rule, and
// the next publish heals it; the writer whose version lost re-applies its
// writes and publishes them again.
func TestJournaledSplitPointerHeals(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, "")
	mustExec(t, a, "CREATE TABLE log(w TEXT, i INTEGER, PRIMARY KEY(w, i))")
	mustPublish(t, a, e.key)
	// b is partitioned: it sees only its own copy of the nodes.
	part := newMemDHT(8)
	for i := range part.nodes {
		for k, v := range e.dht.nodes[i] {
			part.nodes[i][k] = v
		}
	}
	b := journaledWriter(t, part, e.seeder, e.key, "")
	mustCatchUp(t, b)
	mustExec(t, a, "INSERT INTO log VALUES('a', 1)")
	mustExec(t, b, "INSERT INTO log VALUES('b', 1)")
	ra := mustPublish(t, a, e.key)
	rb := mustPublish(t, b, e.key)
	if ra.Seq != 2 || rb.Seq != 2 {
		t.Fatalf("seqs %d %d, want both 2", ra.Seq, rb.Seq)
	}
	// The partition heals with half the nodes holding each value.
	target := a.Address().Target()
	for i := 4; i < 8; i++ {
		e.dht.nodes[i][target] = part.nodes[i][target]
	}
	b.store.cfg.Publish.Getter, b.store.cfg.Publish.Putter = memPointers{e.dht}, e.dht
	// Whoever publishes next heals it; here b, then a.
	mustExec(t, b, "INSERT INTO log VALUES('b', 2)")
	mustPublish(t, b, e.key)
	mustExec(t, a, "INSERT INTO log VALUES('a', 2)")
	mustPublish(t, a, e.key)
	mustPublish(t, b, e.key) // b catches up and, if its seq-2 write was on the losing side, publishes it again
	mustPublish(t, a, e.key)
	for _, d := range []*DB{a, b} {
		mustCatchUp(t, d)
		if n := count(t, d, "SELECT COUNT(*) FROM log"); n != 4 {
			t.Fatalf("%d rows after healing, want 4", n)
		}
		if p, _ := d.Journal().Pending(); len(p) != 0 {
			t.Fatalf("pending after healing: %+v", p)
		}
	}
	it, n, err := memPointers{e.dht}.Get(context.Background(), a.Address(), 0)
	if err != nil || n != 8 {
		t.Fatalf("pointer seq %d on %d nodes (%v), want one value on all 8", it.Seq, n, err)
	}
}

// A publish whose read-back failed: the next catch-up confirms it.
func TestJournaledReadBackFailure(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, "")
	mustExec(t, a, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	mustPublish(t, a, e.key)
	mustExec(t, a, "INSERT INTO t VALUES(1)")
	// The catch-up read works, the read-back after the put fails.
	a.store.cfg.Publish.Getter = &onceAfter{Getter: memPointers{e.dht}, ok: 1}
	if _, err := a.Publish(context.Background(), e.key); err == nil {
		t.Fatal("publish with a failed read-back: no error")
	}
	if p, _ := a.Journal().Pending(); len(p) != 1 {
		t.Fatalf("pending after the failed read-back: %d, want 1", len(p))
	}
	a.store.cfg.Publish.Getter = memPointers{e.dht}
	cu := mustCatchUp(t, a)
	if cu.Rebased || len(cu.Published) != 1 {
		t.Fatalf("catch-up: %+v", cu)
	}
	if p, _ := a.Journal().Pending(); len(p) != 0 {
		t.Fatalf("pending after catch-up: %d", len(p))
	}
}

// onceAfter lets ok reads through, then fails every read.
type onceAfter struct {
	Getter
	ok int
}

func (g *onceAfter) Get(ctx context.Context, addr record.Address, minSeq int64) (bep44.Item, int, error) {
	if g.ok == 0 {
		return bep44.Item{}, 0, errors.New("network down")
	}
	g.ok--
	return g.Getter.Get(ctx, addr, minSeq)
}

// Under PolicyReject the loser's conflicting write is left out, and both
// writers' journals agree it is done (rejected, not pending).
func TestJournaledRejectPolicy(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, journal.PolicyReject)
	b := journaledWriter(t, e.dht, e.seeder, e.key, journal.PolicyReject)
	mustExec(t, a, "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES('row', 'orig')")
	mustPublish(t, a, e.key)
	mustCatchUp(t, b)
	mustExec(t, a, "UPDATE kv SET v = 'a' WHERE k = 'row'")
	mustExec(t, b, "UPDATE kv SET v = 'b' WHERE k = 'row'; INSERT INTO kv VALUES('b', 'with it')")
	mustPublish(t, a, e.key)
	rep := mustPublish(t, b, e.key)
	if len(rep.Conflicts) != 1 || rep.Conflicts[0].Decision != journal.DecisionRejected || len(rep.Rejected) != 1 || rep.Pending != 0 {
		t.Fatalf("b's report: conflicts %+v rejected %v pending %d", rep.Conflicts, rep.Rejected, rep.Pending)
	}
	if n := count(t, b, "SELECT COUNT(*) FROM kv WHERE v = 'a'"); n != 1 {
		t.Fatal("a's value lost")
	}
	if n := count(t, b, "SELECT COUNT(*) FROM kv WHERE k = 'b'"); n != 0 {
		t.Fatal("the rejected write was partly applied")
	}
	cu := mustCatchUp(t, a)
	if len(cu.Conflicts) != 1 || cu.Conflicts[0].Decision != journal.DecisionRejected {
		t.Fatalf("a's catch-up: %+v", cu.Conflicts)
	}
}

// A publish a crash left pending (signed, not put) is finished by the next
// publish, which then has nothing new to put: it still confirms the writes
// the finished version holds.
func TestJournaledFinishedPendingConfirms(t *testing.T) {
	e := newTestEnv(t)
	a := journaledWriter(t, e.dht, e.seeder, e.key, "")
	mustExec(t, a, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	mustPublish(t, a, e.key)
	mustExec(t, a, "INSERT INTO t VALUES(1)")
	mustExec(t, a, "INSERT INTO t VALUES(2)")
	e.dht.failNext = 1 // the put reaches no node: the signed publish stays pending
	if _, err := a.Publish(context.Background(), e.key); err == nil {
		t.Fatal("publish with the network down: no error")
	}
	if a.State().Pending == nil {
		t.Fatal("no pending publish")
	}
	rep := mustPublish(t, a, e.key)
	if rep.Retried != 2 || !rep.Unchanged || rep.Pending != 0 || len(rep.Published) != 2 {
		t.Fatalf("publish after the failure: retried %d unchanged %v pending %d published %v",
			rep.Retried, rep.Unchanged, rep.Pending, rep.Published)
	}
}
