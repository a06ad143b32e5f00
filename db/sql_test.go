package db

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/dhtdb/dhtdb/record"
)

func TestExecQuery(t *testing.T) {
	e := newTestEnv(t)
	s := e.open(t)
	addr, err := s.Create("shop", e.key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.DB(addr)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, d, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, img BLOB, note TEXT)")
	r := mustExec(t, d, "INSERT INTO items(name, price, img) VALUES (?, ?, ?); INSERT INTO items(name, price) VALUES (?, ?)",
		"apple", 1.5, []byte{1, 2}, "pear", 2)
	if r.Changes != 2 || r.LastInsertID != 2 {
		t.Errorf("exec result %+v, want 2 changes, last id 2", r)
	}
	rows, err := d.Query(context.Background(), "SELECT id, name, price, img, note FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rows)
	want := `{"columns":["id","name","price","img","note"],"rows":[[1,"apple",1.5,"AQI=",null],[2,"pear",2,null,null]]}`
	if string(b) != want {
		t.Errorf("rows\n got %s\nwant %s", b, want)
	}

	// A failing statement rolls back the whole Exec.
	if _, err := d.Exec(context.Background(), "INSERT INTO items(name) VALUES ('x'); INSERT INTO nope VALUES (1)"); err == nil {
		t.Error("exec into a missing table succeeded")
	}
	rows, err = d.Query(context.Background(), "SELECT count(*) FROM items")
	if err != nil || rows.Rows[0][0] != int64(2) {
		t.Errorf("after a failed exec: %v %v, want 2 rows", rows, err)
	}
	// Queries cannot write, nor run several statements.
	if _, err := d.Query(context.Background(), "DELETE FROM items"); err == nil {
		t.Error("query deleted rows")
	}
	if _, err := d.Query(context.Background(), "SELECT 1; SELECT 2"); err == nil {
		t.Error("query ran two statements")
	}
	if _, err := d.Exec(context.Background(), "  "); err == nil {
		t.Error("empty exec accepted")
	}
	if _, err := d.Exec(context.Background(), "SELECT ?", 1, 2); err == nil {
		t.Error("left-over arguments accepted")
	}
}

func TestExecDurableAcrossRestart(t *testing.T) {
	e := newTestEnv(t)
	s := e.open(t)
	addr, err := s.Create("notes", e.key)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.DB(addr)
	mustExec(t, d, "CREATE TABLE n(x)")
	for i := range 10 {
		mustExec(t, d, "INSERT INTO n VALUES (?)", i)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := e.open(t)
	d2, err := s2.DB(addr)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Role() != RoleOwner {
		t.Errorf("role after restart %q", d2.Role())
	}
	rows, err := d2.Query(context.Background(), "SELECT sum(x) FROM n")
	if err != nil || rows.Rows[0][0] != int64(45) {
		t.Errorf("after restart: %v %v, want sum 45", rows, err)
	}
	mustExec(t, d2, "INSERT INTO n VALUES (100)")
}

func TestStoreFollowListUnfollow(t *testing.T) {
	e := newTestEnv(t)
	s := e.open(t)
	own, err := s.Create("a/../b", e.key) // any UTF-8 name, '/' included
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("a/../b", e.key); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	other := record.Address{PublicKey: [32]byte{7}, Name: "shop"}
	f, err := s.Follow(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Exec(context.Background(), "CREATE TABLE t(x)"); !errors.Is(err, ErrNotOwner) {
		t.Errorf("exec on a followed db: %v, want ErrNotOwner", err)
	}
	if _, err := f.Query(context.Background(), "SELECT 1"); !errors.Is(err, ErrNoVersion) {
		t.Errorf("query before any version: %v, want ErrNoVersion", err)
	}
	if _, err := f.Publish(context.Background(), e.key); !errors.Is(err, ErrNotOwner) {
		t.Errorf("publish of a followed db: %v, want ErrNotOwner", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v, want 2", list, err)
	}
	if d, err := s.Find("shop"); err != nil || d.Address() != other {
		t.Errorf("find shop: %v %v", d, err)
	}
	if _, err := s.Find("nothing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("find nothing: %v", err)
	}
	if err := s.Unfollow(own); err == nil {
		t.Error("unfollowed an owned database")
	}
	if err := s.Unfollow(other); err != nil {
		t.Fatal(err)
	}
	if _, err := e.open(t).DB(other); !errors.Is(err, ErrNotFound) {
		t.Errorf("after unfollow: %v, want ErrNotFound", err)
	}
	if _, err := s.Create("", e.key); err == nil {
		t.Error("empty name accepted")
	}
}
