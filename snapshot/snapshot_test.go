package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"zombiezen.com/go/sqlite"
)

const (
	accounts     = 3000
	startBalance = 100
)

// makeBank creates a database whose invariant is sum(balance) ==
// accounts*startBalance, with ~2 KB rows so it spans ~1600 pages (more
// than one backup step).
func makeBank(t *testing.T, path string, wal bool) {
	c := openDB(t, path, wal)
	exec(t, c, "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, body TEXT NOT NULL)")
	exec(t, c, "BEGIN")
	for i := range accounts {
		exec(t, c, "INSERT INTO acct VALUES (?, ?, ?)", i, startBalance, rowBody(i, 0, 2000))
	}
	exec(t, c, "COMMIT")
	c.Close()
}

func TestCreateConsistentUnderWrites(t *testing.T) {
	for _, mode := range []struct {
		name string
		wal  bool
	}{{"wal", true}, {"rollback", false}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "live.db")
			makeBank(t, src, mode.wal)

			var commits atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				w := openDB(t, src, mode.wal)
				for i := 1; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					a, b := (i*7919)%accounts, (i*104729+1)%accounts
					// Move 1 between two accounts and rewrite their pages:
					// the sum stays constant in every committed state.
					if err := execErr(w, "BEGIN IMMEDIATE"); err != nil {
						t.Error(err)
						return
					}
					for _, q := range []struct {
						id, delta int
					}{{a, -1}, {b, +1}} {
						if err := execErr(w, "UPDATE acct SET balance = balance + ?, body = ? WHERE id = ?", q.delta, rowBody(q.id, i, 2000), q.id); err != nil {
							t.Error(err)
							return
						}
					}
					if err := execErr(w, "COMMIT"); err != nil {
						t.Error(err)
						return
					}
					commits.Add(1)
				}
			})
			defer func() { close(stop); wg.Wait() }()

			ctx := context.Background()
			for n := range 5 {
				before := commits.Load()
				snap := filepath.Join(dir, "snap.db")
				if err := Create(ctx, src, snap); err != nil {
					t.Fatalf("snapshot %d: %v", n, err)
				}
				if err := Check(ctx, snap); err != nil {
					t.Fatalf("snapshot %d: %v", n, err)
				}
				head := make([]byte, 20)
				f, _ := os.Open(snap)
				f.Read(head)
				f.Close()
				if head[18] != 1 || head[19] != 1 {
					t.Fatalf("snapshot %d: header bytes 18/19 = %d/%d, want 1/1", n, head[18], head[19])
				}
				r := openReadOnly(t, snap)
				if got := queryInt(t, r, "SELECT sum(balance) FROM acct"); got != accounts*startBalance {
					t.Fatalf("snapshot %d: sum %d, want %d: not one consistent state", n, got, accounts*startBalance)
				}
				if got := queryInt(t, r, "SELECT count(*) FROM acct"); got != accounts {
					t.Fatalf("snapshot %d: %d rows", n, got)
				}
				r.Close()
				for _, suffix := range []string{"-wal", "-shm", "-journal"} {
					if _, err := os.Stat(snap + suffix); err == nil {
						t.Fatalf("reading the snapshot made a %s file", suffix)
					}
				}
				t.Logf("snapshot %d: writer commits during snapshot and check: %d", n, commits.Load()-before)
			}
			if commits.Load() == 0 {
				t.Fatal("the writer never committed: the test tested nothing")
			}
		})
	}
}

func TestCreateDeterministic(t *testing.T) {
	ctx := context.Background()
	var snaps [][]byte
	for range 2 {
		// Two databases built by the same statements (two "machines").
		dir := t.TempDir()
		src := makeDB(t, dir, false, 2000, 300)
		c := openDB(t, src, false)
		exec(t, c, "UPDATE t SET body = 'changed' WHERE id % 7 = 0")
		exec(t, c, "DELETE FROM t WHERE id % 11 = 0")
		c.Close()
		a, b := filepath.Join(dir, "a.snap"), filepath.Join(dir, "b.snap")
		for _, p := range []string{a, b} {
			if err := Create(ctx, src, p); err != nil {
				t.Fatal(err)
			}
		}
		ab, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if !bytes.Equal(ab, bb) {
			t.Fatal("two snapshots of an unchanged database differ")
		}
		ia, err := NewInfo(ctx, a, "db.sqlite")
		if err != nil {
			t.Fatal(err)
		}
		ib, err := NewInfo(ctx, b, "db.sqlite")
		if err != nil {
			t.Fatal(err)
		}
		ha, _ := InfoHash(ia)
		hb, _ := InfoHash(ib)
		if ha != hb {
			t.Fatalf("infohashes differ: %s %s", ha, hb)
		}
		snaps = append(snaps, ab)
	}
	if !bytes.Equal(snaps[0], snaps[1]) {
		t.Fatal("the same statements on two databases gave different snapshots")
	}
}

// TestCreateIgnoresCheckpointState: a WAL database gives the same
// snapshot whether its last commits are still in the WAL or checkpointed
// into the main file (the owner's snapshot must not depend on when
// SQLite happened to checkpoint).
func TestCreateIgnoresCheckpointState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := makeDB(t, dir, true, 1000, 300)
	c := openDB(t, src, true)
	exec(t, c, "PRAGMA wal_autocheckpoint=0")
	exec(t, c, "UPDATE t SET body = 'in the wal' WHERE id % 5 = 0")
	exec(t, c, "INSERT INTO t (id, body) SELECT id + 5000, body FROM t WHERE id < 200")
	a, b := filepath.Join(dir, "a.snap"), filepath.Join(dir, "b.snap")
	if err := Create(ctx, src, a); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(src + "-wal"); err != nil || st.Size() == 0 {
		t.Fatalf("test setup: the WAL should hold the commits (%v)", err)
	}
	exec(t, c, "PRAGMA wal_checkpoint(TRUNCATE)")
	if err := Create(ctx, src, b); err != nil {
		t.Fatal(err)
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("snapshot differs before and after a checkpoint")
	}
}

func TestCreateMissingSource(t *testing.T) {
	dir := t.TempDir()
	err := Create(context.Background(), filepath.Join(dir, "nope.db"), filepath.Join(dir, "s"))
	if err == nil {
		t.Fatal("no error for a missing source")
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Fatal("Create made the missing source")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left files behind: %v", ents)
	}
}

func TestCreateCancelled(t *testing.T) {
	dir := t.TempDir()
	src := makeDB(t, dir, true, 100, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Create(ctx, src, filepath.Join(dir, "s")); err == nil {
		t.Fatal("no error with a cancelled context")
	}
	if _, err := os.Stat(filepath.Join(dir, "s")); err == nil {
		t.Fatal("a cancelled snapshot was installed")
	}
}

// cancelAtCopy is a context that is cancelled the first time its Err is
// asked, which Create does only once the read transaction is open: it
// cancels a snapshot in the middle.
type cancelAtCopy struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func (c *cancelAtCopy) Done() <-chan struct{} { return c.done }
func (c *cancelAtCopy) Err() error {
	c.once.Do(func() { close(c.done) })
	return context.Canceled
}

// TestCreateFromConnCancelled: a snapshot cancelled mid-way leaves the
// caller's connection usable, outside any transaction.
func TestCreateFromConnCancelled(t *testing.T) {
	dir := t.TempDir()
	src := makeDB(t, dir, true, 100, 100)
	c := openDB(t, src, true)
	ctx := &cancelAtCopy{Context: context.Background(), done: make(chan struct{})}
	if err := CreateFromConn(ctx, c, filepath.Join(dir, "s")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if !c.AutocommitEnabled() {
		t.Fatal("connection left inside a transaction")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".dhtdb-tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	exec(t, c, "INSERT INTO t (id, body) VALUES (-1, 'still writable')")
	if err := CreateFromConn(context.Background(), c, filepath.Join(dir, "s")); err != nil {
		t.Fatal(err)
	}
	if err := Check(context.Background(), filepath.Join(dir, "s")); err != nil {
		t.Fatal(err)
	}
}

func execErr(c *sqlite.Conn, q string, args ...any) error {
	return sqlitexExecute(c, q, args...)
}
