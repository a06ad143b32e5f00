package journal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/snapshot"
)

var tmpSeq atomic.Int64

// writer is one test writer: a working copy and its journal.
type writer struct {
	t    testing.TB
	dir  string
	live *sqlite.Conn
	j    *Journal
	clk  clock.Clock
	pol  Policy
	seed uint64
}

func (w *writer) livePath() string { return filepath.Join(w.dir, "live.sqlite") }

// newWriter makes a writer in its own directory; its working copy starts as
// a copy of base ("" = empty database).
func newWriter(t testing.TB, clk clock.Clock, base string, pol Policy, seed uint64) *writer {
	t.Helper()
	w := &writer{t: t, dir: t.TempDir(), clk: clk, pol: pol, seed: seed}
	if base != "" {
		if err := snapshot.Create(context.Background(), base, w.livePath()); err != nil {
			t.Fatal(err)
		}
	}
	w.openLive()
	w.openJournal()
	t.Cleanup(func() { w.close() })
	return w
}

func (w *writer) openJournal() {
	w.t.Helper()
	j, err := Open(Config{Path: filepath.Join(w.dir, "journal.sqlite"), Clock: w.clk, Policy: w.pol,
		Rand: rand.NewChaCha8([32]byte{byte(w.seed), byte(w.seed >> 8), 1})})
	if err != nil {
		w.t.Fatal(err)
	}
	w.j = j
}

func (w *writer) openLive() {
	w.t.Helper()
	c, err := sqlite.OpenConn(w.livePath(), sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, p := range []string{"journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"} {
		if err := sqlitex.ExecuteTransient(c, "PRAGMA "+p, nil); err != nil {
			w.t.Fatal(err)
		}
	}
	w.live = c
}

func (w *writer) close() {
	if w.live != nil {
		w.live.Close()
		w.live = nil
	}
	if w.j != nil {
		w.j.Close()
		w.j = nil
	}
}

func (w *writer) exec(sql string, args ...any) Result {
	w.t.Helper()
	if fc, ok := w.clk.(*clock.Fake); ok {
		fc.Advance(time.Millisecond)
	}
	res, err := w.j.Exec(context.Background(), w.live, sql, args...)
	if err != nil {
		w.t.Fatalf("exec %q: %v", sql, err)
	}
	return res
}

// snapshot writes the working copy's committed content to a new file.
func (w *writer) snapshot() string {
	w.t.Helper()
	p := filepath.Join(w.dir, fmt.Sprintf("v%d.sqlite", tmpSeq.Add(1)))
	if err := snapshot.Create(context.Background(), w.livePath(), p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// rebaseOnto makes a copy of version, rebases this writer's writes onto it
// and installs the result as the working copy.
func (w *writer) rebaseOnto(version string) RebaseReport {
	w.t.Helper()
	rep, err := w.tryRebaseOnto(version)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func (w *writer) tryRebaseOnto(version string) (RebaseReport, error) {
	tmp := filepath.Join(w.dir, fmt.Sprintf("rebase%d.sqlite", tmpSeq.Add(1)))
	if err := snapshot.Create(context.Background(), version, tmp); err != nil {
		return RebaseReport{}, err
	}
	c, err := sqlite.OpenConn(tmp, sqlite.OpenReadWrite)
	if err != nil {
		return RebaseReport{}, err
	}
	rep, err := w.j.Rebase(context.Background(), c)
	c.Close()
	if err != nil {
		return rep, err
	}
	w.live.Close()
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(w.livePath() + suffix)
	}
	if err := os.Rename(tmp, w.livePath()); err != nil {
		return rep, err
	}
	w.openLive()
	return rep, nil
}

// dump returns the user tables' content of the database at path, sorted,
// as text (the reserved tables excluded, or all with reserved).
func dump(t testing.TB, path string, reserved bool) string {
	t.Helper()
	c, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var tables []string
	err = sqlitex.Execute(c, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error {
			n := s.ColumnText(0)
			if (reserved || !isReserved(n)) && !strings.HasPrefix(n, "sqlite_") {
				tables = append(tables, n)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tb := range tables {
		fmt.Fprintf(&b, "[%s]\n", tb)
		err := sqlitex.Execute(c, "SELECT * FROM "+quoteIdent(tb)+" ORDER BY 1, 2", &sqlitex.ExecOptions{
			ResultFunc: func(s *sqlite.Stmt) error {
				for i := range s.ColumnCount() {
					fmt.Fprintf(&b, "%s=%v ", s.ColumnName(i), goColumn(s, i))
				}
				b.WriteString("\n")
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func goColumn(s *sqlite.Stmt, i int) any {
	switch s.ColumnType(i) {
	case sqlite.TypeInteger:
		return s.ColumnInt64(i)
	case sqlite.TypeFloat:
		return s.ColumnFloat(i)
	case sqlite.TypeText:
		return s.ColumnText(i)
	case sqlite.TypeBlob:
		return fmt.Sprintf("%x", columnBytes(s, i))
	}
	return nil
}

// query returns the first column of the first row.
func query(t testing.TB, path, q string) any {
	t.Helper()
	c, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var v any
	first := true
	err = sqlitex.Execute(c, q, &sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error {
		if first {
			v, first = goColumn(s, 0), false
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newClock() *clock.Fake { return clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func twoWriters2(t testing.TB) (a, b *writer, base string) {
	clk := newClock()
	o := newWriter(t, clk, "", "", 9)
	o.exec(setupKV)
	base = o.snapshot()
	return newWriter(t, clk, base, "", 1), newWriter(t, clk, base, "", 2), base
}

// snapshotOf opens a fresh copy of version.
func (w *writer) snapshotOf(version string) *sqlite.Conn {
	w.t.Helper()
	tmp := filepath.Join(w.dir, fmt.Sprintf("copy%d.sqlite", tmpSeq.Add(1)))
	if err := snapshot.Create(context.Background(), version, tmp); err != nil {
		w.t.Fatal(err)
	}
	c, err := sqlite.OpenConn(tmp, sqlite.OpenReadWrite)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}
