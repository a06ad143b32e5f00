package db

import (
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/syncer"
)

// fileSnapshotter is the test Snapshotter: it checkpoints the WAL and copies
// the database file; the "infohash" is the SHA-1 of the bytes. The real one
// (snapshot package) builds a torrent.
type fileSnapshotter struct{}

func (fileSnapshotter) Snapshot(ctx context.Context, live, dir, name string, seq int64) (Version, error) {
	c, err := sqlite.OpenConn(live, sqlite.OpenReadWrite)
	if err != nil {
		return Version{}, err
	}
	err = sqlitex.ExecuteTransient(c, "PRAGMA wal_checkpoint(TRUNCATE)", nil)
	if err != nil {
		c.Close()
		return Version{}, err
	}
	b, err := os.ReadFile(live)
	c.Close()
	if err != nil {
		return Version{}, err
	}
	ih := syncer.Hash(sha1.Sum(b))
	f, err := os.CreateTemp(dir, "snap-*")
	if err != nil {
		return Version{}, err
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return Version{}, err
	}
	return Version{IH: ih, Size: int64(len(b)), Path: f.Name()}, nil
}

// memSeeder records what it was asked to seed; failNext makes calls fail.
type memSeeder struct {
	mu       sync.Mutex
	seeded   map[syncer.Hash]Version
	failNext int
}

func (s *memSeeder) Seed(ctx context.Context, v Version) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return errors.New("seeder down")
	}
	if s.seeded == nil {
		s.seeded = map[syncer.Hash]Version{}
	}
	s.seeded[v.IH] = v
	return nil
}

// memDHT is the test Putter: n storing nodes applying the BEP 44 rules.
type memDHT struct {
	mu       sync.Mutex
	n        int
	nodes    []map[[20]byte]bep44.Item
	failNext int // puts that reach no node (network down)
	puts     []putCall
}

type putCall struct {
	Seq    int64
	CAS    int64
	HasCAS bool
}

func newMemDHT(n int) *memDHT {
	m := &memDHT{n: n}
	m.wipe()
	return m
}

// wipe restarts every storing node empty.
func (m *memDHT) wipe() {
	m.nodes = make([]map[[20]byte]bep44.Item, m.n)
	for i := range m.nodes {
		m.nodes[i] = map[[20]byte]bep44.Item{}
	}
}

func (m *memDHT) Put(ctx context.Context, it bep44.Item, cas int64, hasCAS bool) (PutResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts = append(m.puts, putCall{it.Seq, cas, hasCAS})
	if m.failNext > 0 {
		m.failNext--
		return PutResult{}, errors.New("dht: no node stored the item (timeouts)")
	}
	if err := it.Verify(); err != nil {
		return PutResult{}, err
	}
	res := PutResult{Rejected: map[int]int{}}
	target := it.Target()
	for _, node := range m.nodes {
		old, ok := node[target]
		switch {
		case ok && hasCAS && old.Seq != cas:
			res.Rejected[bep44.CodeCASMismatch]++
		case ok && (old.Seq > it.Seq || old.Seq == it.Seq && string(old.V) != string(it.V)):
			res.Rejected[bep44.CodeSeqTooLow]++
		default:
			node[target] = it
			res.Stored++
		}
	}
	if res.Stored == 0 {
		return res, fmt.Errorf("dht: no node stored the item")
	}
	return res, nil
}

// get returns the item with the highest seq on any node.
func (m *memDHT) get(target [20]byte) (bep44.Item, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best bep44.Item
	found := false
	for _, node := range m.nodes {
		if it, ok := node[target]; ok && (!found || it.Seq > best.Seq) {
			best, found = it, true
		}
	}
	return best, found
}

type testEnv struct {
	dir    string
	dht    *memDHT
	seeder *memSeeder
	key    ed25519.PrivateKey
}

func newTestEnv(t *testing.T) *testEnv {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{dir: t.TempDir(), dht: newMemDHT(8), seeder: &memSeeder{}, key: key}
}

// open opens the env's data directory (again, after a "restart").
func (e *testEnv) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Config{Dir: e.dir, Publish: PublishConfig{Snapshotter: fileSnapshotter{}, Seeder: e.seeder, Putter: e.dht}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustExec(t *testing.T, d *DB, sql string, args ...any) ExecResult {
	t.Helper()
	r, err := d.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
	return r
}
