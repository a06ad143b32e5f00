package journal

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// twoWriters returns writers A and B whose working copies both start at the
// version made by setup (run by a third writer, whose writes are published).
func twoWriters(t *testing.T, pol Policy, setup string) (a, b *writer, base string) {
	t.Helper()
	clk := newClock()
	o := newWriter(t, clk, "", pol, 9)
	o.exec(setup)
	base = o.snapshot()
	a = newWriter(t, clk, base, pol, 1)
	b = newWriter(t, clk, base, pol, 2)
	return a, b, base
}

// bothOrders publishes A then rebases B onto it, and B then rebases A onto
// it, returning the two results' content and the two reports.
func bothOrders(t *testing.T, a, b *writer) (ab, ba string, repB, repA RebaseReport) {
	t.Helper()
	va, vb := a.snapshot(), b.snapshot()
	repB = b.rebaseOnto(va) // A won: B rebases
	ab = dump(t, b.snapshot(), false)
	repA = a.rebaseOnto(vb) // B won: A rebases
	ba = dump(t, a.snapshot(), false)
	return ab, ba, repB, repA
}

const setupKV = `CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT, n INTEGER);
INSERT INTO kv VALUES('shared', 'orig', 0), ('x', 'x0', 0), ('y', 'y0', 0)`

func TestRebaseNonConflictingBothOrders(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	a.exec("INSERT INTO kv VALUES('a1', 'A', 1)")
	a.exec("UPDATE kv SET v = 'xA' WHERE k = 'x'")
	a.exec("UPDATE kv SET n = 7 WHERE k = 'shared'") // a column B does not change
	b.exec("INSERT INTO kv VALUES('b1', 'B', 1), ('b2', 'B', 2)")
	b.exec("DELETE FROM kv WHERE k = 'y'")
	b.exec("UPDATE kv SET v = 'vB' WHERE k = 'shared'")
	ab, ba, repB, repA := bothOrders(t, a, b)
	if ab != ba {
		t.Fatalf("order changes the result:\nA then B:\n%s\nB then A:\n%s", ab, ba)
	}
	want := "[kv]\nk=a1 v=A n=1 \nk=b1 v=B n=1 \nk=b2 v=B n=2 \nk=shared v=vB n=7 \nk=x v=xA n=0 \n"
	if ab != want {
		t.Fatalf("content:\n%s\nwant:\n%s", ab, want)
	}
	if len(repB.Conflicts) != 0 || len(repA.Conflicts) != 0 || len(repB.Applied) != 3 || len(repA.Applied) != 3 {
		t.Fatalf("reports: B %+v, A %+v", repB, repA)
	}
}

func TestRebaseSameRowLaterWins(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	a.exec("UPDATE kv SET v = 'fromA', n = 1 WHERE k = 'shared'") // earlier
	b.exec("UPDATE kv SET v = 'fromB' WHERE k = 'shared'")        // later, n untouched
	ab, ba, repB, repA := bothOrders(t, a, b)
	if ab != ba {
		t.Fatalf("order changes the result:\n%s\n%s", ab, ba)
	}
	if want := "k=shared v=fromB n=1 "; !contains(ab, want) {
		t.Fatalf("content:\n%s\nwant row %q", ab, want)
	}
	// B rebased onto A: B's later write wins, n from A kept (merge).
	if len(repB.Conflicts) != 1 {
		t.Fatalf("B's report: %+v", repB)
	}
	c := repB.Conflicts[0]
	if c.Table != "kv" || !slices.Equal(c.Key, []any{"shared"}) || c.Kind != KindUpdateUpdate || c.Decision != DecisionOurs ||
		c.Ours.Writer != b.j.Writer() || c.Theirs.Writer != a.j.Writer() || !c.OursTime.After(c.TheirsTime) ||
		!slices.Equal(c.Columns, []string{"v"}) {
		t.Fatalf("B's conflict: %+v", c)
	}
	// A rebased onto B: A's earlier v loses, its n is kept.
	if len(repA.Conflicts) != 1 || repA.Conflicts[0].Decision != DecisionMerged || repA.Conflicts[0].Theirs.Writer != b.j.Writer() {
		t.Fatalf("A's report: %+v", repA)
	}
	// The other side learns of it from the published version.
	crep, err := a.j.Confirm(context.Background(), b.snapshot(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(crep.Conflicts) != 1 || crep.Conflicts[0].Ours.Writer != b.j.Writer() || crep.Conflicts[0].Theirs.Writer != a.j.Writer() ||
		!slices.Equal(crep.Conflicts[0].Key, []any{"shared"}) {
		t.Fatalf("A's confirm of B's version: %+v", crep)
	}
	if crep, _ := a.j.Confirm(context.Background(), b.snapshot(), 2); len(crep.Conflicts) != 0 {
		t.Fatalf("a conflict reported twice: %+v", crep)
	}
}

func TestRebaseInsertInsertAndDeleteUpdate(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	a.exec("INSERT INTO kv VALUES('new', 'A', 1)")
	a.exec("UPDATE kv SET v = 'xA' WHERE k = 'x'")
	b.exec("INSERT INTO kv VALUES('new', 'B', 2)") // later: wins whole
	b.exec("DELETE FROM kv WHERE k = 'x'")         // delete wins over A's update
	ab, ba, repB, repA := bothOrders(t, a, b)
	if ab != ba {
		t.Fatalf("order changes the result:\n%s\n%s", ab, ba)
	}
	if !contains(ab, "k=new v=B n=2 ") || contains(ab, "k=x ") {
		t.Fatalf("content:\n%s", ab)
	}
	kinds := func(r RebaseReport) (out []string) {
		for _, c := range r.Conflicts {
			out = append(out, c.Kind+":"+c.Decision)
		}
		return out
	}
	if got := kinds(repB); !slices.Equal(got, []string{"insert-insert:ours", "delete-update:ours"}) {
		t.Fatalf("B's conflicts: %v", got)
	}
	if got := kinds(repA); !slices.Equal(got, []string{"insert-insert:theirs", "update-delete:theirs"}) {
		t.Fatalf("A's conflicts: %v", got)
	}
}

func TestRebaseRejectPolicy(t *testing.T) {
	a, b, base := twoWriters(t, PolicyReject, setupKV)
	a.exec("UPDATE kv SET v = 'fromA' WHERE k = 'shared'")
	b.exec("UPDATE kv SET v = 'fromB' WHERE k = 'shared'; INSERT INTO kv VALUES('b', 'B', 0)")
	b.exec("INSERT INTO kv VALUES('b2', 'B', 0)")
	va := a.snapshot()
	rep := b.rebaseOnto(va)
	if len(rep.Rejected) != 1 || rep.Rejected[0].Counter != 1 || len(rep.Applied) != 1 || len(rep.Conflicts) != 1 ||
		rep.Conflicts[0].Decision != DecisionRejected {
		t.Fatalf("report: %+v", rep)
	}
	got := dump(t, b.snapshot(), false)
	if !contains(got, "k=shared v=fromA") || contains(got, "k=b v=") || !contains(got, "k=b2 v=B") {
		t.Fatalf("the rejected write must be absent, the next one present:\n%s", got)
	}
	// Published: B learns its first write was rejected, its second is in.
	crep, err := b.j.Confirm(context.Background(), b.snapshot(), 2)
	if err != nil || len(crep.Rejected) != 1 || len(crep.Published) != 1 {
		t.Fatalf("confirm: %+v %v", crep, err)
	}
	if p, _ := b.j.Pending(); len(p) != 0 {
		t.Fatalf("pending after confirm: %+v", p)
	}
	_ = base
}

func TestRebaseDDLReplay(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	a.exec("INSERT INTO kv VALUES('a', 'A', 1)")
	b.exec("CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
	b.exec("INSERT INTO tags(name) VALUES('one'); ALTER TABLE kv ADD COLUMN note TEXT; UPDATE kv SET note = 'n' WHERE k = 'x'")
	b.exec("CREATE INDEX tags_name ON tags(name); INSERT INTO tags(name) VALUES('two')")
	rep := b.rebaseOnto(a.snapshot())
	if len(rep.Applied) != 3 || len(rep.Conflicts) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	got := dump(t, b.snapshot(), false)
	for _, want := range []string{"k=a v=A n=1 note=<nil>", "k=x v=x0 n=0 note=n", "[tags]\nid=1 name=one \nid=2 name=two"} {
		if !contains(got, want) {
			t.Fatalf("content lacks %q:\n%s", want, got)
		}
	}
	if n := query(t, b.livePath(), "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'tags_name'"); n != int64(1) {
		t.Fatal("index not replayed")
	}
	// A schema statement that cannot replay is a reported conflict.
	a2, b2, _ := twoWriters(t, "", setupKV)
	a2.exec("CREATE TABLE extra(id INTEGER PRIMARY KEY, a TEXT)")
	b2.exec("CREATE TABLE extra(id INTEGER PRIMARY KEY, b TEXT)")
	rep = b2.rebaseOnto(a2.snapshot())
	if len(rep.Conflicts) != 1 || rep.Conflicts[0].Kind != KindSchema || rep.Conflicts[0].Decision != DecisionSkipped {
		t.Fatalf("schema conflict: %+v", rep)
	}
}

func TestRebaseIdempotent(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	b.exec("UPDATE kv SET n = n + 1 WHERE k = 'x'")
	b.exec("INSERT INTO kv VALUES('b', 'B', 0)")
	rep := b.rebaseOnto(a.snapshot())
	if len(rep.Applied) != 2 {
		t.Fatalf("first rebase: %+v", rep)
	}
	once := b.snapshot()
	rep = b.rebaseOnto(once) // the version already holds both
	if len(rep.Applied) != 0 || len(rep.Skipped) != 2 {
		t.Fatalf("second rebase: %+v", rep)
	}
	if got, want := dump(t, b.snapshot(), true), dump(t, once, true); got != want {
		t.Fatalf("a second rebase changed the content:\n%s\n%s", got, want)
	}
	if n := query(t, once, "SELECT n FROM kv WHERE k = 'x'"); n != int64(1) {
		t.Fatalf("n = %v, want 1 (applied once)", n)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// A column added by one writer while the other writes rows of the table:
// the rows are rebased and get the column's default.
func TestRebaseOntoAddedColumn(t *testing.T) {
	a, b, _ := twoWriters(t, "", setupKV)
	a.exec("ALTER TABLE kv ADD COLUMN note TEXT DEFAULT 'd'")
	b.exec("INSERT INTO kv VALUES('b', 'B', 1)")
	b.exec("UPDATE kv SET v = 'xB' WHERE k = 'x'")
	rep := b.rebaseOnto(a.snapshot())
	if len(rep.Applied) != 2 || len(rep.Conflicts) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	got := dump(t, b.snapshot(), false)
	if !contains(got, "k=b v=B n=1 note=d") || !contains(got, "k=x v=xB n=0 note=d") {
		t.Fatalf("content:\n%s", got)
	}
	// A table whose key changed shape is a reported schema conflict.
	a2, b2, _ := twoWriters(t, "", setupKV)
	a2.exec("DROP TABLE kv; CREATE TABLE kv(id INTEGER PRIMARY KEY, k TEXT, v TEXT, n INTEGER)")
	b2.exec("INSERT INTO kv VALUES('b', 'B', 1)")
	rep = b2.rebaseOnto(a2.snapshot())
	if len(rep.Conflicts) != 1 || rep.Conflicts[0].Kind != KindSchema || rep.Conflicts[0].Table != "kv" {
		t.Fatalf("report: %+v", rep)
	}
}
