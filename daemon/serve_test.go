package daemon

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/keyfile"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/syncer"
)

// dhtNet is a test network of DHT nodes on loopback.
type dhtNet struct {
	t     *testing.T
	nodes []*dht.Node
	addrs []string
}

// testnet starts n DHT nodes on loopback, joined through the first, and
// returns their addresses.
func testnet(t *testing.T, n int) []string { return newDHTNet(t, n).addrs }

func newDHTNet(t *testing.T, n int) *dhtNet {
	t.Helper()
	dn := &dhtNet{t: t}
	for i := range n {
		dn.start(i, "127.0.0.1:0")
	}
	t.Cleanup(func() {
		for _, node := range dn.nodes {
			node.Close()
		}
	})
	return dn
}

func (dn *dhtNet) start(i int, addr string) {
	t := dn.t
	t.Helper()
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := dht.Config{Conn: conn}
	if i > 0 {
		cfg.Bootstrap = dn.addrs[:1]
	}
	node, err := dht.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if i > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if i < len(dn.nodes) {
		dn.nodes[i] = node
	} else {
		dn.nodes = append(dn.nodes, node)
		dn.addrs = append(dn.addrs, node.Addr().String())
	}
}

// restartAll restarts every node empty, on the same addresses.
func (dn *dhtNet) restartAll() {
	for i, node := range dn.nodes {
		node.Close()
		dn.start(i, dn.addrs[i])
	}
}

// items counts the BEP 44 items the nodes store.
func (dn *dhtNet) items() int {
	n := 0
	for _, node := range dn.nodes {
		n += node.Stats().Items
	}
	return n
}

// startDaemon starts a daemon that publishes only when asked.
func startDaemon(t *testing.T, dir string, boot []string) (*Daemon, *apiClient) {
	t.Helper()
	return startDaemonWith(t, dir, boot, time.Hour)
}

// startDaemonWith starts a daemon publishing automatically delay after
// writes.
func startDaemonWith(t *testing.T, dir string, boot []string, delay time.Duration) (*Daemon, *apiClient) {
	t.Helper()
	d, err := Start(context.Background(), Config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0", DHTAddr: "127.0.0.1:0", TorrentAddr: "127.0.0.1:0",
		Bootstrap: boot, Debounce: db.Debounce{Delay: delay, MaxDelay: delay},
		Sync: syncer.Config{PollInterval: 300 * time.Millisecond, FetchTimeout: 5 * time.Second, RetryInterval: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if info, err := ReadInfo(dir); err != nil || info.HTTP != d.Info().HTTP {
		t.Fatalf("daemon info file: %+v %v", info, err)
	}
	return d, &apiClient{t: t, url: "http://" + d.Info().HTTP}
}

// TestDaemonsOnLoopback: a writer and a reader daemon, the real DHT node,
// torrent client and snapshots on loopback, driven through the HTTP API.
func TestDaemonsOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	boot := testnet(t, 6)
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	_, w := startDaemon(t, t.TempDir(), boot)
	readerDir := t.TempDir()
	rd, r := startDaemon(t, readerDir, boot)

	var st Status
	if code := w.do("POST", "/v1/databases", map[string]string{"name": "shop", "key_file": keyPath}, &st); code != 200 {
		t.Fatalf("create: %d %+v", code, st)
	}
	w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)"}, nil)
	for i := range 200 {
		w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "INSERT INTO t VALUES (?, printf('%0500d', ?))", "args": []any{i, i}}, nil)
	}
	var rep map[string]any
	if code := w.do("POST", "/v1/databases/shop/publish", nil, &rep); code != 200 {
		t.Fatalf("publish: %d %v", code, rep)
	}
	t.Logf("published: %v", rep)
	if code := r.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil); code != 200 {
		t.Fatalf("follow: %d", code)
	}
	rows := func(c *apiClient) float64 {
		var out struct {
			Rows [][]any `json:"rows"`
		}
		if c.do("POST", "/v1/databases/shop/query", map[string]any{"sql": "SELECT count(*) FROM t"}, &out) != 200 || len(out.Rows) != 1 {
			return -1
		}
		return out.Rows[0][0].(float64)
	}
	eventually(t, "the reader to hold 200 rows", func() bool { return rows(r) == 200 })

	// A small change: the reader catches up (by delta).
	w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "INSERT INTO t VALUES (1000, 'new')"}, nil)
	w.do("POST", "/v1/databases/shop/publish", nil, nil)
	eventually(t, "the reader to hold 201 rows", func() bool { return rows(r) == 201 })

	// The reader restarts and keeps its copy and state.
	rd.Close()
	_, r2 := startDaemon(t, readerDir, boot)
	if got := rows(r2); got != 201 {
		t.Errorf("after restart the reader holds %v rows, want 201", got)
	}
	// (Automatic publishes after the writes may have added versions: the
	// seq is at least the two explicit publishes.)
	eventually(t, "the restarted reader's status", func() bool {
		var st Status
		return r2.do("GET", "/v1/databases/shop", nil, &st) == 200 && st.Seq >= 2 && st.Behind == 0 && st.Current == st.IH
	})
}

// TestDaemonFallbackWriterGone: the writer publishes version 2 and goes
// offline before anyone fetched it. A reader that held version 1 keeps
// seeding it; a new reader tries version 2, falls back to version 1 from the
// first reader after the fetch timeout, and the pointer stays alive.
func TestDaemonFallbackWriterGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	boot := testnet(t, 6)
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	writerDir := t.TempDir()
	wd, w := startDaemon(t, writerDir, boot)
	rd1, r1 := startDaemon(t, t.TempDir(), boot)
	var st Status
	w.do("POST", "/v1/databases", map[string]string{"name": "fb", "key_file": keyPath}, &st)
	w.do("POST", "/v1/databases/fb/exec", map[string]any{"sql": "CREATE TABLE t(x INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)"}, nil)
	if code := w.do("POST", "/v1/databases/fb/publish", nil, nil); code != 200 {
		t.Fatalf("publish 1: %d", code)
	}
	r1.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil)
	count := func(c *apiClient) float64 {
		var out struct {
			Rows [][]any `json:"rows"`
		}
		if c.do("POST", "/v1/databases/fb/query", map[string]any{"sql": "SELECT count(*) FROM t"}, &out) != 200 || len(out.Rows) != 1 {
			return -1
		}
		return out.Rows[0][0].(float64)
	}
	eventually(t, "reader 1 at version 1", func() bool { return count(r1) == 1 })

	// Reader 1's sync loop stops (so it cannot fetch version 2) while its
	// torrent client keeps seeding version 1; the writer publishes version
	// 2 and leaves before anyone fetched it.
	rd1.Runner().Remove(rd1Addr(t, rd1, st))
	w.do("POST", "/v1/databases/fb/exec", map[string]any{"sql": "INSERT INTO t VALUES (2)"}, nil)
	var rep map[string]any
	if code := w.do("POST", "/v1/databases/fb/publish", nil, &rep); code != 200 || rep["seq"] != 2.0 {
		t.Fatalf("publish 2: %d %v", code, rep)
	}
	wd.Close()

	_, r2 := startDaemon(t, t.TempDir(), boot)
	r2.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil)
	eventually(t, "reader 2 to fall back to version 1", func() bool { return count(r2) == 1 })
	eventually(t, "reader 2's status: seq 2, one version behind", func() bool {
		var s2 Status
		r2.do("GET", "/v1/databases/fb", nil, &s2)
		return s2.Seq == 2 && s2.Behind == 1
	})

	// The writer comes back and seeds version 2 again: reader 2, which kept
	// trying the newer version, gets it.
	startDaemon(t, writerDir, boot)
	eventually(t, "reader 2 to reach version 2", func() bool { return count(r2) == 2 })
}

func rd1Addr(t *testing.T, d *Daemon, st Status) record.Address {
	t.Helper()
	a, err := record.ParseAddress(st.Address)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDaemonRestoresPointer: every node that stored the pointer restarts
// empty while the writer is gone; a reader restores it within one poll.
func TestDaemonRestoresPointer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	dn := newDHTNet(t, 8)
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	wd, w := startDaemon(t, t.TempDir(), dn.addrs)
	_, r := startDaemon(t, t.TempDir(), dn.addrs)
	var st Status
	w.do("POST", "/v1/databases", map[string]string{"name": "ka", "key_file": keyPath}, &st)
	w.do("POST", "/v1/databases/ka/exec", map[string]any{"sql": "CREATE TABLE t(x INTEGER PRIMARY KEY)"}, nil)
	if code := w.do("POST", "/v1/databases/ka/publish", nil, nil); code != 200 {
		t.Fatalf("publish: %d", code)
	}
	r.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil)
	eventually(t, "the reader to sync", func() bool {
		var s Status
		return r.do("GET", "/v1/databases/ka", nil, &s) == 200 && s.Seq == 1 && s.Behind == 0
	})
	wd.Close()
	if dn.items() == 0 {
		t.Fatal("no node stored the pointer")
	}
	dn.restartAll()
	if got := dn.items(); got != 0 {
		t.Fatalf("%d items after restarting the nodes empty", got)
	}
	eventually(t, "the reader to put the pointer back", func() bool { return dn.items() >= 4 })
	t.Logf("pointer restored on %d of %d nodes", dn.items(), len(dn.nodes))
}

// TestDaemonRefusesBadVersion: the owner's key signs a pointer naming a
// torrent that is seeded but is not a SQLite database; the reader refuses it
// for good and keeps serving its version.
func TestDaemonRefusesBadVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	boot := testnet(t, 6)
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	wd, w := startDaemon(t, t.TempDir(), boot)
	rd, r := startDaemon(t, t.TempDir(), boot)
	var st Status
	w.do("POST", "/v1/databases", map[string]string{"name": "bad", "key_file": keyPath}, &st)
	w.do("POST", "/v1/databases/bad/exec", map[string]any{"sql": "CREATE TABLE t(x INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)"}, nil)
	var rep map[string]any
	if code := w.do("POST", "/v1/databases/bad/publish", nil, &rep); code != 200 {
		t.Fatalf("publish: %d", code)
	}
	r.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil)
	count := func() float64 {
		var out struct {
			Rows [][]any `json:"rows"`
		}
		if r.do("POST", "/v1/databases/bad/query", map[string]any{"sql": "SELECT count(*) FROM t"}, &out) != 200 || len(out.Rows) != 1 {
			return -1
		}
		return out.Rows[0][0].(float64)
	}
	eventually(t, "the reader at version 1", func() bool { return count() == 1 })

	// Seed garbage under the database's torrent name and point seq 2 at it.
	addr, _ := record.ParseAddress(st.Address)
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not sqlite "), 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := snapshot.NewInfo(context.Background(), garbage, db.TorrentName(addr.Name))
	if err != nil {
		t.Fatal(err)
	}
	gih, err := wd.swarm.Seed(garbage, info)
	if err != nil {
		t.Fatal(err)
	}
	rec := record.Record{IH: gih, Size: info.Length}
	v, _ := rec.Encode()
	it, err := bep44.NewMutable(n.key, addr.Salt(), 2, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wd.DHT().Put(context.Background(), it, dht.PutOptions{CAS: 1, HasCAS: true}); err != nil {
		t.Fatal(err)
	}
	var s Status
	eventually(t, "the bad version to be refused", func() bool {
		s = Status{}
		r.do("GET", "/v1/databases/bad", nil, &s)
		return s.LastNotice == "bad-version"
	})
	if s.Seq != 2 || s.Current != rep["ih"] || count() != 1 || rd.Runner().Metrics().FetchFailures.Load() == 0 {
		t.Errorf("after a bad version: status %+v, %v rows; want seq 2 seen, version 1 kept", s, count())
	}
}
