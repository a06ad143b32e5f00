package versions

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/snapshot"
)

// TestFollowerFlow runs a follower's local steps with real SQLite files:
// version 1 in the store, version 2 assembled beside it from the reused
// pieces plus the "downloaded" rest, checked, added, installed live.
func TestFollowerFlow(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	src := filepath.Join(work, "writer.db")
	w, err := sqlite.OpenConn(src)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	run := func(q string) {
		if err := sqlitex.ExecuteScript(w, q, nil); err != nil {
			t.Fatal(err)
		}
	}
	run("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT); " +
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5000) " +
		"INSERT INTO kv SELECT i, printf('%0200d', i) FROM n;")
	publish := func(name string) (string, snapshot.Expect) {
		p := filepath.Join(work, name)
		if err := snapshot.CreateFromConn(ctx, w, p); err != nil {
			t.Fatal(err)
		}
		return p, snapshot.Expect{Name: "kv.sqlite"}
	}
	v1, exp := publish("v1")
	info1, err := snapshot.NewInfo(ctx, v1, exp.Name)
	if err != nil {
		t.Fatal(err)
	}
	ih1, _ := snapshot.InfoHash(info1)

	store, err := Open(Config{Dir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	// The follower got v1 somehow (a full download): put it in the store.
	tmp, _ := os.CreateTemp(store.Dir(), tempPattern)
	b1, _ := os.ReadFile(v1)
	tmp.Write(b1)
	tmp.Close()
	if _, _, err := store.Add(tmp.Name(), info1, 1); err != nil {
		t.Fatal(err)
	}

	run("UPDATE kv SET v = 'changed' WHERE k = 4321;")
	v2, _ := publish("v2")
	info2, _ := snapshot.NewInfo(ctx, v2, exp.Name)
	// What the follower receives over BEP 9, validated before use.
	raw, _ := snapshot.InfoBytes(info2)
	got, err := snapshot.ValidateInfoBytes(raw, exp)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := store.Get(ih1)
	plan, err := snapshot.PlanDelta(info1, got)
	if err != nil {
		t.Fatal(err)
	}
	a, err := snapshot.Assemble(ctx, old.Path, info1, got, plan, store.Dir())
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(v2)
	f, _ := os.OpenFile(a.Path, os.O_WRONLY, 0)
	for _, i := range a.Missing { // the downloader's part
		off := int64(i) * got.PieceLength
		end := min(off+got.PieceLength, got.Length)
		f.WriteAt(b2[off:end], off)
	}
	f.Close()
	t.Logf("fetched %d of %d pieces", len(a.Missing), got.NumPieces())
	if bad, err := snapshot.VerifyFile(ctx, a.Path, got); err != nil || len(bad) != 0 {
		t.Fatalf("bad pieces %v %v", bad, err)
	}
	if err := snapshot.Check(ctx, a.Path); err != nil {
		t.Fatal(err)
	}
	v, _, err := store.Add(a.Path, got, 2)
	if err != nil {
		t.Fatal(err)
	}
	if ih2, _ := snapshot.InfoHash(info2); v.InfoHash != ih2 || v.Info.NumPieces() != info2.NumPieces() {
		t.Fatalf("stored as %s", v.InfoHash)
	}
	live := filepath.Join(work, "live", "kv.sqlite")
	os.MkdirAll(filepath.Dir(live), 0o755)
	if err := snapshot.InstallCopy(ctx, v.Path, live); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenConn(live, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var val string
	sqlitex.Execute(r, "SELECT v FROM kv WHERE k = 4321", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { val = s.ColumnText(0); return nil },
	})
	if val != "changed" {
		t.Fatalf("live copy has %q", val)
	}
	if n := len(store.List()); n != 2 {
		t.Fatalf("%d versions", n)
	}
}

// TestAddSnapshot is the owner's side: snapshot the live database
// straight into the store; the stored info survives a reopen and a
// damaged info file drops the version.
func TestAddSnapshot(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "owner.db")
	w, err := sqlite.OpenConn(src)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := sqlitex.ExecuteScript(w, "CREATE TABLE a (x); INSERT INTO a VALUES (1), (2);", nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	store, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := store.AddSnapshot(ctx, src, "owner.sqlite", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Check(ctx, v.Path); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.ValidateInfo(v.Info, snapshot.Expect{Name: "owner.sqlite"}); err != nil {
		t.Fatal(err)
	}
	if bad, err := snapshot.VerifyFile(ctx, v.Path, v.Info); err != nil || len(bad) != 0 {
		t.Fatalf("bad pieces %v %v", bad, err)
	}
	again, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Get(v.InfoHash)
	if err != nil || got.Info.Length != v.Info.Length || string(got.Info.Pieces) != string(v.Info.Pieces) {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, tempPattern)); len(ents) != 0 {
		t.Fatalf("temporary files left: %v", ents)
	}
	os.WriteFile(v.Path+infoSuffix, []byte("d4:name1:xe"), 0o644)
	third, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(third.List()); n != 0 {
		t.Fatalf("a version with a damaged info file kept: %d", n)
	}
}
