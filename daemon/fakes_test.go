package daemon

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/syncer"
)

// fakeDHT is an in-memory DHT of n storing nodes applying the BEP 44 rules.
type fakeDHT struct {
	mu    sync.Mutex
	nodes []map[[20]byte]bep44.Item
	puts  int
}

func newFakeDHT(n int) *fakeDHT {
	f := &fakeDHT{nodes: make([]map[[20]byte]bep44.Item, n)}
	f.wipe()
	return f
}

// wipe restarts every storing node empty.
func (f *fakeDHT) wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.nodes {
		f.nodes[i] = map[[20]byte]bep44.Item{}
	}
}

// force stores it on every node, bypassing the rules (a replaying attacker
// that got the nodes to hold an old item).
func (f *fakeDHT) force(it bep44.Item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nodes {
		n[it.Target()] = it
	}
}

func (f *fakeDHT) Get(ctx context.Context, addr record.Address, minSeq int64) (bep44.Item, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best bep44.Item
	found := 0
	for _, n := range f.nodes {
		it, ok := n[addr.Target()]
		if !ok || it.Seq < minSeq {
			continue
		}
		switch {
		case found == 0 || it.Seq > best.Seq:
			best, found = it, 1
		case it.Seq == best.Seq:
			found++
		}
	}
	if found == 0 {
		return bep44.Item{}, 0, fmt.Errorf("get: %w", ErrNoPointer)
	}
	if best.Seq == minSeq {
		best.V = nil // BEP 44: a get with seq gets no value when nothing is newer
	}
	return best, found, nil
}

func (f *fakeDHT) Put(ctx context.Context, it bep44.Item, cas int64, hasCAS bool) (db.PutResult, error) {
	if err := it.Verify(); err != nil {
		return db.PutResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	res := db.PutResult{Rejected: map[int]int{}}
	for _, n := range f.nodes {
		old, ok := n[it.Target()]
		switch {
		case ok && hasCAS && old.Seq != cas:
			res.Rejected[bep44.CodeCASMismatch]++
		case ok && (old.Seq > it.Seq || old.Seq == it.Seq && string(old.V) != string(it.V)):
			res.Rejected[bep44.CodeSeqTooLow]++
		default:
			n[it.Target()] = it
			res.Stored++
		}
	}
	if res.Stored == 0 {
		return res, errors.New("no node stored the item")
	}
	return res, nil
}

// fakeSwarm is the torrent network: the files of the versions someone
// seeds, by infohash. A version that is offline cannot be fetched; a fetch
// of it waits, like a real one, until it comes online or is cancelled.
type fakeSwarm struct {
	mu      sync.Mutex
	files   map[syncer.Hash][]byte
	offline map[syncer.Hash]bool
	fetched []syncer.Hash
}

func newFakeSwarm() *fakeSwarm {
	return &fakeSwarm{files: map[syncer.Hash][]byte{}, offline: map[syncer.Hash]bool{}}
}

func (s *fakeSwarm) setOffline(ih syncer.Hash, off bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offline[ih] = off
}

// add seeds raw bytes under an infohash (for forged versions).
func (s *fakeSwarm) add(ih syncer.Hash, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[ih] = b
}

// Snapshot is the writer's db.Snapshotter, with the real snapshot package:
// a backup copy and its deterministic torrent.
func (s *fakeSwarm) Snapshot(ctx context.Context, live, dir, name string, seq int64) (db.Version, error) {
	tmp := filepath.Join(dir, fmt.Sprintf(".snap-%d", time.Now().UnixNano()))
	if err := snapshot.Create(ctx, live, tmp); err != nil {
		return db.Version{}, err
	}
	info, err := snapshot.NewInfo(ctx, tmp, name)
	if err != nil {
		os.Remove(tmp)
		return db.Version{}, err
	}
	ih, err := snapshot.InfoHash(info)
	if err != nil {
		os.Remove(tmp)
		return db.Version{}, err
	}
	return db.Version{IH: syncer.Hash(ih), Size: info.Length, Path: tmp}, nil
}

// Seed is the writer's db.Seeder.
func (s *fakeSwarm) Seed(ctx context.Context, v db.Version) error {
	b, err := os.ReadFile(v.Path)
	if err != nil {
		s.mu.Lock()
		_, ok := s.files[v.IH]
		s.mu.Unlock()
		if ok {
			return nil // seeded by an earlier attempt
		}
		return err
	}
	s.add(v.IH, b)
	return nil
}

// Fetch, Install and Resume make fakeSwarm the reader's Transfers.
func (s *fakeSwarm) Fetch(ctx context.Context, d *db.DB, ih, base syncer.Hash, hasBase bool, progress func(FetchProgress)) (string, error) {
	for {
		s.mu.Lock()
		b, ok := s.files[ih]
		off := s.offline[ih]
		s.mu.Unlock()
		if !ok {
			return "", errors.New("no peers have it")
		}
		if progress != nil {
			progress(FetchProgress{IH: ih.String(), Phase: "download", BytesTotal: int64(len(b))})
		}
		if !off {
			s.mu.Lock()
			s.fetched = append(s.fetched, ih)
			s.mu.Unlock()
			path := filepath.Join(d.VersionsDir(), ih.String()+".fetched")
			return path, os.WriteFile(path, b, 0o600)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *fakeSwarm) Install(ctx context.Context, d *db.DB, ih syncer.Hash, path string, seq int64) error {
	defer os.Remove(path)
	return snapshot.InstallCopy(ctx, path, d.LivePath())
}

func (s *fakeSwarm) Resume(ctx context.Context, d *db.DB) error { return nil }

// ihFromBytes names forged content.
func ihFromBytes(b []byte) syncer.Hash { return syncer.Hash(sha1.Sum(b)) }

// asFetcher makes fakeSwarm a db.Fetcher.
type swarmFetcher struct{ s *fakeSwarm }

func (f swarmFetcher) Fetch(ctx context.Context, d *db.DB, ih, base syncer.Hash, hasBase bool) (string, error) {
	return f.s.Fetch(ctx, d, ih, base, hasBase, nil)
}
