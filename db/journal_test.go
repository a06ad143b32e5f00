package db

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/record"
)

// TestExecThroughJournal: with Config.Journal every write of an owned
// database is a journal entry, survives a restart, and is published.
func TestExecThroughJournal(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	open := func() *Store {
		s, err := Open(Config{Dir: e.dir, Journal: true,
			Publish: PublishConfig{Snapshotter: fileSnapshotter{}, Seeder: e.seeder, Putter: e.dht}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	addr, err := s.Create("j", e.key)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.DB(addr)
	mustExec(t, d, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
	r := mustExec(t, d, "INSERT INTO kv VALUES (?, ?)", 1, "one")
	if r.ID == "" || r.Changes != 1 {
		t.Errorf("journaled exec result %+v, want an entry id", r)
	}
	if _, err := d.Exec(ctx, "CREATE TABLE nopk(x)"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, "INSERT INTO nopk VALUES (1)"); !errors.Is(err, journal.ErrNoPrimaryKey) {
		t.Errorf("insert into a table without a primary key: %v, want journal.ErrNoPrimaryKey", err)
	}
	if _, err := d.Publish(ctx, e.key); err != nil {
		t.Fatal(err)
	}
	pending, err := d.Journal().Pending()
	if err != nil || len(pending) == 0 {
		t.Errorf("journal pending %v %v, want the writes (not yet confirmed)", pending, err)
	}
	s.Close()
	d2, err := open().DB(addr)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := d2.Query(ctx, "SELECT v FROM kv WHERE k = 1")
	if err != nil || len(rows.Rows) != 1 || rows.Rows[0][0] != "one" {
		t.Errorf("after restart: %v %v", rows, err)
	}
	if all, err := d2.Journal().Entries(); err != nil || len(all) != len(pending) {
		t.Errorf("journal after restart: %d entries %v, want %d", len(all), err, len(pending))
	}
}

func TestJoinAsWriter(t *testing.T) {
	e := newTestEnv(t)
	s := e.open(t)
	a := record.Address{PublicKey: [32]byte(e.key.Public().(ed25519.PublicKey)), Name: "shared"}
	if _, err := s.Join(a, e.key); err == nil {
		t.Error("joined without a journal")
	}
	sj, err := Open(Config{Dir: t.TempDir(), Journal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sj.Close()
	other := newTestEnv(t)
	if _, err := sj.Join(a, other.key); !errors.Is(err, ErrNotOwner) {
		t.Errorf("join with another key: %v, want ErrNotOwner", err)
	}
	d, err := sj.Join(a, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if d.Role() != RoleOwner || d.Journal() == nil {
		t.Errorf("joined db: role %s, journal %v", d.Role(), d.Journal())
	}
	mustExec(t, d, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v)")
}
