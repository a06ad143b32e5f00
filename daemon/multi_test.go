package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/keyfile"
)

// TestTwoWritersOneKey: two journaled writers hold the same key; one joins
// the other's database, both write and publish; a reader ends up with every
// write of both, and each writer's journal has nothing left pending.
func TestTwoWritersOneKey(t *testing.T) {
	ctx := context.Background()
	n := newTestNet(t)
	a := n.startWith(t, "", fast(), true)
	b := n.startWith(t, "", fast(), true)
	r := n.start(t, "", fast())
	addr, da := a.create(t, n.key, "shared")
	exec(t, da, "CREATE TABLE t(k INTEGER PRIMARY KEY, who TEXT)")
	exec(t, da, "INSERT INTO t VALUES (0, 'a')")
	if _, err := a.runner.Publish(ctx, addr, n.key); err != nil {
		t.Fatal(err)
	}
	db2, err := b.store.Join(addr, n.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.runner.Add(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the joined writer to catch up", func() bool { return count(t, b, addr) == 1 })
	r.follow(t, addr)

	for i := 1; i <= 5; i++ {
		exec(t, da, "INSERT INTO t VALUES (?, 'a')", 2*i)
		exec(t, db2, "INSERT INTO t VALUES (?, 'b')", 2*i+1)
		a.runner.Wrote(addr)
		b.runner.Wrote(addr)
	}
	eventually(t, "the reader to hold all 11 rows", func() bool { return count(t, r, addr) == 11 })
	for name, w := range map[string]*testNode{"a": a, "b": b} {
		eventually(t, fmt.Sprintf("writer %s's writes all published", name), func() bool {
			d, _ := w.store.DB(addr)
			p, err := d.Journal().Pending()
			return err == nil && len(p) == 0
		})
	}
}

// TestDaemonsTwoWriters: the same over the real DHT and torrent client: a
// second daemon joins as a writer with the key file, both write through the
// API, and a reader daemon ends up with every row.
func TestDaemonsTwoWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	boot := testnet(t, 6)
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	_, a := startDaemonWith(t, t.TempDir(), boot, 100*time.Millisecond)
	_, b := startDaemonWith(t, t.TempDir(), boot, 100*time.Millisecond)
	_, r := startDaemon(t, t.TempDir(), boot)
	var st Status
	if code := a.do("POST", "/v1/databases", map[string]string{"name": "shared", "key_file": keyPath}, &st); code != 200 {
		t.Fatalf("create: %d", code)
	}
	a.do("POST", "/v1/databases/shared/exec", map[string]any{"sql": "CREATE TABLE t(k INTEGER PRIMARY KEY, who TEXT)"}, nil)
	if code := a.do("POST", "/v1/databases/shared/publish", nil, nil); code != 200 {
		t.Fatalf("publish: %d", code)
	}
	var joined Status
	if code := b.do("POST", "/v1/follow", map[string]string{"db": st.Address, "key_file": keyPath}, &joined); code != 200 || joined.Role != "owner" {
		t.Fatalf("join: %d %+v", code, joined)
	}
	r.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil)
	rows := func(c *apiClient) float64 {
		var out struct {
			Rows [][]any `json:"rows"`
		}
		if c.do("POST", "/v1/databases/shared/query", map[string]any{"sql": "SELECT count(*) FROM t"}, &out) != 200 || len(out.Rows) != 1 {
			return -1
		}
		return out.Rows[0][0].(float64)
	}
	eventually(t, "the joined writer to catch up", func() bool { return rows(b) == 0 })
	for i := range 5 {
		for j, c := range []*apiClient{a, b} {
			var res map[string]any
			if code := c.do("POST", "/v1/databases/shared/exec", map[string]any{"sql": "INSERT INTO t VALUES (?, ?)", "args": []any{2*i + j, j}}, &res); code != 200 {
				t.Fatalf("exec: %d %v", code, res)
			}
		}
	}
	eventually(t, "the reader to hold the 10 rows of both writers", func() bool { return rows(r) == 10 })
	for _, c := range []*apiClient{a, b} {
		eventually(t, "no write left pending", func() bool {
			var s Status
			return c.do("GET", "/v1/databases/shared", nil, &s) == 200 && s.PendingWrites == 0
		})
	}
}

// TestPendingWritesInStatus: the status counts journaled writes not yet
// published as soon as the API reports them (Wrote), and clears on publish.
func TestPendingWritesInStatus(t *testing.T) {
	n := newTestNet(t)
	s, err := db.Open(db.Config{Dir: t.TempDir(), Journal: true, Publish: db.PublishConfig{Snapshotter: n.swarm,
		Seeder: n.swarm, Putter: n.dht, Getter: n.dht, Fetcher: swarmFetcher{n.swarm}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := NewRunner(RunnerConfig{Store: s, Pointers: n.dht, Transfers: n.swarm, Sync: fast()}) // no Key: no automatic publish
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	addr, err := s.Create("pw", n.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(addr); err != nil {
		t.Fatal(err)
	}
	d, _ := s.DB(addr)
	exec(t, d, "CREATE TABLE t(k INTEGER PRIMARY KEY)")
	exec(t, d, "INSERT INTO t VALUES (1)")
	r.Wrote(addr)
	eventually(t, "pending_writes 2", func() bool {
		st, _ := r.Status(addr)
		return st.PendingWrites == 2
	})
	if _, err := r.Publish(context.Background(), addr, n.key); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status(addr); st.PendingWrites != 0 {
		t.Errorf("after publishing: pending_writes %d, want 0", st.PendingWrites)
	}
}
