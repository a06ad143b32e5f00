package db

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// published returns the record of the pointer the DHT holds for addr.
func published(t *testing.T, m *memDHT, addr record.Address) (bep44.Item, record.Record) {
	t.Helper()
	it, ok := m.get(bep44.MutableTarget(addr.PublicKey, addr.Salt()))
	if !ok {
		t.Fatal("no pointer in the DHT")
	}
	if err := it.Verify(); err != nil {
		t.Fatal(err)
	}
	rec, err := record.Decode(it.V)
	if err != nil {
		t.Fatal(err)
	}
	return it, rec
}

func TestPublishSequence(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	s := e.open(t)
	addr, err := s.Create("shop", e.key)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.DB(addr)
	mustExec(t, d, "CREATE TABLE t(x)")

	rep, err := d.Publish(ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seq != 1 || rep.Put.Stored != 8 || e.dht.puts[0].HasCAS {
		t.Errorf("first publish %+v, put %+v: want seq 1 on 8 nodes without cas", rep, e.dht.puts[0])
	}
	if _, ok := e.seeder.seeded[rep.IH]; !ok {
		t.Error("first version not seeded")
	}
	it, rec := published(t, e.dht, addr)
	if it.Seq != 1 || rec.IH != rep.IH || len(rec.Prev) != 0 || rec.Size != rep.Size {
		t.Errorf("pointer seq %d %+v, want seq 1 ih %s", it.Seq, rec, rep.IH)
	}

	// Nothing changed: nothing is put.
	again, err := d.Publish(ctx, e.key)
	if err != nil || !again.Unchanged || again.Seq != 1 || len(e.dht.puts) != 1 {
		t.Errorf("unchanged publish %+v %v (%d puts), want unchanged seq 1", again, err, len(e.dht.puts))
	}

	// Six more versions: seq+1 with cas, ih moved into prev, prev capped at 4.
	ihs := []syncer.Hash{rep.IH}
	for i := 2; i <= 7; i++ {
		mustExec(t, d, "INSERT INTO t VALUES (?)", i)
		rep, err := d.Publish(ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		call := e.dht.puts[len(e.dht.puts)-1]
		if rep.Seq != int64(i) || !call.HasCAS || call.CAS != int64(i-1) {
			t.Errorf("publish %d: seq %d, put %+v: want cas %d", i, rep.Seq, call, i-1)
		}
		_, rec := published(t, e.dht, addr)
		wantPrev := ihs
		if len(wantPrev) > 4 {
			wantPrev = wantPrev[:4]
		}
		if rec.IH != rep.IH || len(rec.Prev) != len(wantPrev) {
			t.Fatalf("publish %d: record %+v, want prev %v", i, rec, wantPrev)
		}
		for j := range wantPrev {
			if rec.Prev[j] != wantPrev[j] {
				t.Errorf("publish %d: prev[%d] %x, want %x", i, j, rec.Prev[j], wantPrev[j])
			}
		}
		ihs = append([]syncer.Hash{rep.IH}, ihs...)
	}
	st := d.State()
	if st.Sync.Seq != 7 || st.Sync.Current != ihs[0] || st.Pending != nil {
		t.Errorf("state after 7 publishes: %+v", st)
	}
	held, err := DecodeItem(st.Sync.Item)
	if err != nil || held.Seq != 7 {
		t.Errorf("held item %v %v, want seq 7", held.Seq, err)
	}

	// Only the owner's key publishes.
	other := newTestEnv(t)
	if _, err := d.Publish(ctx, other.key); !errors.Is(err, ErrNotOwner) {
		t.Errorf("publish with another key: %v, want ErrNotOwner", err)
	}
}

// TestPublishRetriedAfterRestart: a publish whose put fails stays pending on
// disk; after a restart the next Publish puts the same signed bytes first.
func TestPublishRetriedAfterRestart(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	s := e.open(t)
	addr, _ := s.Create("log", e.key)
	d, _ := s.DB(addr)
	mustExec(t, d, "CREATE TABLE t(x)")
	if _, err := d.Publish(ctx, e.key); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, "INSERT INTO t VALUES (1)")
	e.dht.failNext = 1
	if _, err := d.Publish(ctx, e.key); err == nil {
		t.Fatal("publish succeeded with the network down")
	}
	pending := d.State().Pending
	if pending == nil {
		t.Fatal("failed publish not kept pending")
	}
	s.Close()

	// Restart; one more write, then publish.
	s2 := e.open(t)
	d2, _ := s2.DB(addr)
	if p := d2.State().Pending; p == nil || string(p.Item) != string(pending.Item) {
		t.Fatal("pending publish lost in the restart")
	}
	mustExec(t, d2, "INSERT INTO t VALUES (2)")
	rep, err := d2.Publish(ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Retried != 2 || rep.Seq != 3 {
		t.Errorf("report %+v, want pending seq 2 finished, then seq 3", rep)
	}
	n := len(e.dht.puts)
	retry, next := e.dht.puts[n-2], e.dht.puts[n-1]
	if retry.Seq != 2 || retry.HasCAS || next.Seq != 3 || !next.HasCAS || next.CAS != 2 {
		t.Errorf("puts %+v then %+v: want seq 2 without cas, then seq 3 cas 2", retry, next)
	}
	_, rec := published(t, e.dht, addr)
	if rec.IH != rep.IH || len(rec.Prev) != 2 {
		t.Errorf("record %+v, want ih %s with 2 prev", rec, rep.IH)
	}

	// A seeder failure fails the publish before any put.
	mustExec(t, d2, "INSERT INTO t VALUES (3)")
	e.seeder.failNext = 1
	puts := len(e.dht.puts)
	if _, err := d2.Publish(ctx, e.key); err == nil || len(e.dht.puts) != puts {
		t.Errorf("publish with the seeder down: %v, %d puts", err, len(e.dht.puts)-puts)
	}
	if rep, err := d2.Publish(ctx, e.key); err != nil || rep.Retried != 4 {
		t.Errorf("publish after the seeder is back: %+v %v", rep, err)
	}
}

// TestPublishConflict: another writer with the same key put a higher seq;
// every node refuses ours, which is reported as ErrConflict and stays pending.
func TestPublishConflict(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	s := e.open(t)
	addr, _ := s.Create("race", e.key)
	d, _ := s.DB(addr)
	mustExec(t, d, "CREATE TABLE t(x)")
	if _, err := d.Publish(ctx, e.key); err != nil {
		t.Fatal(err)
	}
	theirs, err := bep44.NewMutable(e.key, addr.Salt(), 2, []byte("d2:ih20:bbbbbbbbbbbbbbbbbbbbe"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dht.Put(ctx, theirs, 1, true); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, "INSERT INTO t VALUES (1)")
	_, err = d.Publish(ctx, e.key)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("publish against a concurrent seq 2: %v, want ErrConflict", err)
	}
	if d.State().Pending == nil || d.State().Sync.Seq != 1 {
		t.Errorf("state after conflict %+v", d.State())
	}
}

func TestPublishOffline(t *testing.T) {
	e := newTestEnv(t)
	s, err := Open(Config{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, _ := s.Create("x", e.key)
	d, _ := s.DB(addr)
	if _, err := d.Publish(context.Background(), e.key); !errors.Is(err, ErrOffline) {
		t.Errorf("publish without network: %v, want ErrOffline", err)
	}
}

func TestSaveSyncNeverGoesBack(t *testing.T) {
	e := newTestEnv(t)
	s := e.open(t)
	d, err := s.Follow(record.Address{PublicKey: [32]byte{1}, Name: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSync(syncer.Persisted{Seq: 5, Item: []byte("i5"), Current: syncer.Hash{5}, HasCurrent: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSync(syncer.Persisted{Seq: 4, Item: []byte("i4")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	d2, _ := e.open(t).DB(d.Address())
	if st := d2.State().Sync; st.Seq != 5 || string(st.Item) != "i5" || st.Current != (syncer.Hash{5}) {
		t.Errorf("state after a stale save and a restart: %+v", st)
	}
}

func TestTorrentName(t *testing.T) {
	for name, want := range map[string]string{
		"shop": "shop.sqlite", "a/b": "612f62.sqlite", "..": "2e2e.sqlite", "caf\u00e9": "caf\u00e9.sqlite",
	} {
		if got := TorrentName(name); got != want {
			t.Errorf("TorrentName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestRemoveTemp(t *testing.T) {
	e := newTestEnv(t)
	s := e.open(t)
	addr, _ := s.Create("tmp", e.key)
	d, _ := s.DB(addr)
	leftover := filepath.Join(filepath.Dir(d.LivePath()), ".dhtdb-tmp-123")
	if err := os.WriteFile(leftover, []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTemp(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover still there: %v", err)
	}
	if _, err := os.Stat(d.LivePath()); err != nil {
		t.Errorf("live file gone: %v", err)
	}
}
