package journal

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestExecRecordsEntries(t *testing.T) {
	w := newWriter(t, newClock(), "", "", 1)
	r1 := w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(id, v) VALUES(1, 'a'), (2, ?)", "b")
	if !r1.Recorded || r1.ID.Counter != 1 || r1.ID.Writer != w.j.Writer() || r1.Changes != 2 {
		t.Fatalf("first exec: %+v", r1)
	}
	r2 := w.exec("UPDATE t SET v = 'c' WHERE id = 2")
	if r2.ID.Counter != 2 || r2.Changes != 1 {
		t.Fatalf("second exec: %+v", r2)
	}
	if r := w.exec("UPDATE t SET v = 'x' WHERE id = 99"); r.Recorded {
		t.Fatalf("a write changing nothing was recorded: %+v", r)
	}
	es, err := w.j.entries(false, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || len(es[0].steps) != 3 || es[0].steps[0].Kind != stepSQL || es[0].steps[1].Kind != stepChangeset || es[0].steps[2].Kind != stepSeen {
		t.Fatalf("entries: %+v", es)
	}
	chs, err := parseChangeset(es[1].steps[0].Data)
	if err != nil || len(chs) != 1 || chs[0].Op != opUpdate || chs[0].Table != "t" || chs[0].New[1].V != "c" || chs[0].New[0].Defined {
		t.Fatalf("update changeset: %+v %v", chs, err)
	}
	pend, err := w.j.Pending()
	if err != nil || len(pend) != 2 || pend[0].State != "pending" {
		t.Fatalf("pending: %+v %v", pend, err)
	}
	if n := query(t, w.livePath(), "SELECT COUNT(*) FROM _dhtdb_changesets"); n != int64(2) {
		t.Fatalf("markers in live: %v", n)
	}
	if ts := query(t, w.livePath(), "SELECT ts FROM _dhtdb_rows WHERE tbl = 't' ORDER BY ts DESC"); ts != es[1].Time.UnixNano() {
		t.Fatalf("row stamp %v, want %d", ts, es[1].Time.UnixNano())
	}
}

func TestExecRefuses(t *testing.T) {
	w := newWriter(t, newClock(), "", "", 1)
	w.exec("CREATE TABLE nopk(a, b); CREATE TABLE t(id INTEGER PRIMARY KEY)")
	cases := []struct {
		sql  string
		want error
	}{
		{"INSERT INTO nopk VALUES(1, 2)", ErrNoPrimaryKey},
		{"INSERT INTO t VALUES(5); INSERT INTO nopk VALUES(1, 2)", ErrNoPrimaryKey},
		{"INSERT INTO _dhtdb_changesets VALUES(x'00', 1, 1, 'applied')", ErrReserved},
		{"CREATE TABLE _dhtdb_mine(id INTEGER PRIMARY KEY)", ErrReserved},
		{"DROP TABLE _dhtdb_rows", ErrReserved},
		{"PRAGMA user_version = 3", ErrUnsupported},
		{"BEGIN", ErrUnsupported},
		{"CREATE TEMP TABLE x(id INTEGER PRIMARY KEY)", ErrUnsupported},
		{"ATTACH 'other.db' AS o", ErrUnsupported},
	}
	for _, c := range cases {
		_, err := w.j.Exec(context.Background(), w.live, c.sql)
		if !errors.Is(err, c.want) {
			t.Errorf("%q: err %v, want %v", c.sql, err, c.want)
		}
	}
	if n := query(t, w.livePath(), "SELECT COUNT(*) FROM t"); n != int64(0) {
		t.Fatalf("a refused exec left %v rows", n)
	}
	es, _ := w.j.Entries()
	if len(es) != 1 {
		t.Fatalf("refused execs recorded: %d entries", len(es))
	}
	// A write can continue after refusals.
	if r := w.exec("INSERT INTO t VALUES(1)"); r.ID.Counter != 2 {
		t.Fatalf("after refusals: %+v", r)
	}
}

func TestDeleteAllRecordsEveryRow(t *testing.T) {
	w := newWriter(t, newClock(), "", "", 1)
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES(1), (2), (3)")
	w.exec("DELETE FROM t")
	es, _ := w.j.entries(false, true)
	chs, err := parseChangeset(es[1].steps[0].Data)
	if err != nil || len(chs) != 3 {
		t.Fatalf("DELETE FROM t recorded %d changes (%v), want 3", len(chs), err)
	}
}

// A crash between the journal append and the live commit: the entry is in
// the journal, not in live; Repair (Rebase on live) at the next start
// applies it, once.
func TestCrashBetweenJournalAndLive(t *testing.T) {
	w := newWriter(t, newClock(), "", "", 1)
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	crash := errors.New("crash")
	w.j.crashAfterAppend = func() error { return crash }
	if _, err := w.j.Exec(context.Background(), w.live, "INSERT INTO t VALUES(1, 'kept')"); !errors.Is(err, crash) {
		t.Fatalf("exec: %v", err)
	}
	w.close()
	if n := query(t, w.livePath(), "SELECT COUNT(*) FROM t"); n != int64(0) {
		t.Fatalf("live has %v rows before repair", n)
	}
	w.openLive()
	w.openJournal()
	rep, err := w.j.Rebase(context.Background(), w.live)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].Counter != 2 || len(rep.Skipped) != 1 {
		t.Fatalf("repair: %+v", rep)
	}
	if v := query(t, w.livePath(), "SELECT v FROM t WHERE id = 1"); v != "kept" {
		t.Fatalf("after repair: %v", v)
	}
	rep, err = w.j.Rebase(context.Background(), w.live)
	if err != nil || len(rep.Applied) != 0 || len(rep.Skipped) != 2 {
		t.Fatalf("second repair: %+v %v", rep, err)
	}
	if r := w.exec("INSERT INTO t VALUES(2, 'next')"); r.ID.Counter != 3 {
		t.Fatalf("counter after repair: %+v", r)
	}
}

// A journal lost with the disk (or deleted): a new journal must not reuse
// counters already in the working copy.
func TestCounterNeverReused(t *testing.T) {
	w := newWriter(t, newClock(), "", "", 1)
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)")
	w.exec("INSERT INTO t VALUES(1)")
	w.j.Close()
	w.openJournal() // same writer id, entries intact: next is 3
	if r := w.exec("INSERT INTO t VALUES(2)"); r.ID.Counter != 3 {
		t.Fatalf("counter after reopen: %+v", r)
	}
}

func TestConflictJSON(t *testing.T) {
	c := Conflict{Table: "kv", Key: []any{"k", int64(3)}, Kind: KindUpdateUpdate, Columns: []string{"v"},
		Ours: ID{WriterID{1, 2, 3, 4, 5, 6, 7, 8}, 4}, Theirs: ID{WriterID{0xff}, 9}, Decision: DecisionOurs}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ours":{"writer":"0102030405060708","counter":4}`) {
		t.Fatalf("json: %s", b)
	}
	var back Conflict
	if err := json.Unmarshal(b, &back); err != nil || back.Ours != c.Ours || back.Theirs != c.Theirs {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestDropTableRecorded(t *testing.T) {
	w := newWriter(t, newClock(), "", "", 1)
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES(1)")
	w.exec("DROP TABLE t; CREATE TABLE t(id TEXT PRIMARY KEY, v)")
	if n := query(t, w.livePath(), "SELECT COUNT(*) FROM pragma_table_info('t')"); n != int64(2) {
		t.Fatalf("table t has %v columns after drop and create, want 2", n)
	}
	es, _ := w.j.entries(false, true)
	if len(es[1].steps) != 2 || es[1].steps[0].Kind != stepSQL || es[1].steps[1].Kind != stepSQL {
		t.Fatalf("steps: %+v", es[1].steps)
	}
}

func TestPublishedAndPending(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	r1 := a.exec("INSERT INTO kv VALUES('p1', 'A', 1)")
	r2 := a.exec("INSERT INTO kv VALUES('p2', 'A', 2)")
	v := a.snapshot() // holds both
	r3 := a.exec("INSERT INTO kv VALUES('p3', 'A', 3)")
	crep, err := a.j.Confirm(context.Background(), v, 2)
	if err != nil || len(crep.Published) != 2 {
		t.Fatalf("confirm: %+v %v", crep, err)
	}
	got, err := a.j.Published([]ID{r1.ID, r2.ID, r3.ID})
	if err != nil || !got[0] || !got[1] || got[2] {
		t.Fatalf("published: %v %v", got, err)
	}
	if p, _ := a.j.Pending(); len(p) != 1 || p[0].ID != r3.ID {
		t.Fatalf("pending: %+v", p)
	}
	if _, err := a.j.Published([]ID{{Writer: b.j.Writer(), Counter: 1}}); err == nil {
		t.Fatal("another writer's id accepted")
	}
	es, _ := a.j.Entries()
	if len(es) != 3 || es[0].State != "published" || es[0].Seq != 2 || es[2].State != "pending" {
		t.Fatalf("entries: %+v", es)
	}
}
