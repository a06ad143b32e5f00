package swarm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/torrentdht"
)

// A fresh node fetches a version by infohash alone: peers from the DHT,
// metadata by BEP 9; the file is checked, equal to the seeded one, and
// seeded in turn.
func TestFetchByInfohash(t *testing.T) {
	mem := torrentdht.NewMemNetwork()
	seeder := newTestSwarm(t, "127.0.0.1", mem, nil)
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 2000, 200), filepath.Join(dir, "v1.db"), "data.db")
	ih, err := seeder.Seed(v.Path, v.Info)
	if err != nil {
		t.Fatal(err)
	}

	fetcher := newTestSwarm(t, "127.0.0.1", mem, nil)
	var evs events
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	path, err := fetcher.Fetch(ctx, ih, FetchOptions{Name: "data.db", Progress: evs.add})
	if err != nil {
		t.Fatal(err)
	}
	sameContent(t, path, v.Path)
	if err := snapshot.Check(ctx, path); err != nil {
		t.Fatal(err)
	}
	last, ok := evs.last()
	if !ok || last.Phase != PhaseDone || last.Done != v.Info.Length || last.PiecesDone != v.Info.NumPieces() {
		t.Fatalf("last event = %+v, want done with all %d bytes", last, v.Info.Length)
	}
	evs.mu.Lock()
	for i := 1; i < len(evs.all); i++ {
		a, b := evs.all[i-1], evs.all[i]
		if b.Phase < a.Phase || b.Done < a.Done || b.Received < a.Received {
			t.Errorf("event %d went backwards: %+v after %+v", i, b, a)
		}
	}
	if evs.all[0].Phase != PhaseMetadata {
		t.Errorf("first event in phase %v, want metadata", evs.all[0].Phase)
	}
	evs.mu.Unlock()
	if last.Received < v.Info.Length {
		t.Errorf("received %d bytes, less than the %d of the file", last.Received, v.Info.Length)
	}
	if got := fetcher.Seeding()[ih]; got != path {
		t.Errorf("fetcher seeds %q, want %q", got, path)
	}
	// Fetching it again returns the same file at once.
	again, err := fetcher.Fetch(ctx, ih, FetchOptions{Name: "data.db"})
	if err != nil || again != path {
		t.Errorf("second fetch = %q, %v; want %q", again, err, path)
	}
}

// A node holding version 1 fetches version 2 and receives only the pieces
// that changed; the old file is untouched.
func TestFetchDeltaReceivesOnlyChangedPieces(t *testing.T) {
	mem := torrentdht.NewMemNetwork()
	seeder := newTestSwarm(t, "127.0.0.1", mem, nil)
	fetcher := newTestSwarm(t, "127.0.0.1", mem, nil)
	dir := t.TempDir()
	live := makeDB(t, dir, 20000, 200) // about 4.5 MB
	v1 := snap(t, live, filepath.Join(dir, "v1.db"), "data.db")
	ih1, err := seeder.Seed(v1.Path, v1.Info)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p1, err := fetcher.Fetch(ctx, ih1, FetchOptions{Name: "data.db"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p1)

	updateRows(t, live, 1, 200, 10, 15000)
	v2 := snap(t, live, filepath.Join(dir, "v2.db"), "data.db")
	ih2, err := seeder.Seed(v2.Path, v2.Info)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := snapshot.PlanDelta(v1.Info, v2.Info)
	if err != nil {
		t.Fatal(err)
	}
	var evs events
	p2, err := fetcher.Fetch(ctx, ih2, FetchOptions{
		Name:     "data.db",
		Base:     &Version{Path: p1, Info: v1.Info},
		Progress: evs.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	sameContent(t, p2, v2.Path)
	if filepath.Dir(p2) != filepath.Dir(p1) {
		t.Errorf("new version at %s, want it beside the old one in %s", p2, filepath.Dir(p1))
	}
	after, _ := os.ReadFile(p1)
	if string(before) != string(after) {
		t.Fatal("the base version was modified")
	}
	last, _ := evs.last()
	want := plan.FetchBytes(v2.Info)
	t.Logf("db %d bytes, %d of %d pieces changed (%d bytes), received %d bytes, reused %d",
		v2.Info.Length, len(plan.Fetch), v2.Info.NumPieces(), want, last.Received, last.Reused)
	if len(plan.Fetch) == 0 || len(plan.Fetch) > 10 {
		t.Fatalf("plan fetches %d pieces; the test expects a few", len(plan.Fetch))
	}
	// Pieces plus metadata and protocol overhead (handshakes, bitfield of
	// a few hundred pieces, messages): well under one extra piece.
	if last.Received < want || last.Received > want+64<<10 {
		t.Errorf("received %d bytes, want the %d of the changed pieces plus a little", last.Received, want)
	}
	if last.Reused != v2.Info.Length-want {
		t.Errorf("reused %d bytes, want %d", last.Reused, v2.Info.Length-want)
	}
}

// Torrents that are not a snapshot of the expected name are refused with
// the snapshot package's reason, and nothing is left on disk.
func TestFetchRefusesWrongName(t *testing.T) {
	mem := torrentdht.NewMemNetwork()
	seeder := newTestSwarm(t, "127.0.0.1", mem, nil)
	fetcher := newTestSwarm(t, "127.0.0.1", mem, nil)
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 100, 100), filepath.Join(dir, "v.db"), "other.db")
	ih, err := seeder.Seed(v.Path, v.Info)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err = fetcher.Fetch(ctx, ih, FetchOptions{Name: "data.db"})
	if !errors.Is(err, ErrRefused) || !errors.Is(err, snapshot.ErrName) {
		t.Fatalf("fetch of a torrent named other.db: %v, want ErrRefused and snapshot.ErrName", err)
	}
	assertEmptyDir(t, fetcher.cfg.DataDir)
	if len(fetcher.Seeding()) != 0 {
		t.Error("a refused torrent is still held")
	}
}

// A file that is not a sound SQLite database is not handed back.
func TestFetchRefusesNonSQLite(t *testing.T) {
	mem := torrentdht.NewMemNetwork()
	seeder := newTestSwarm(t, "127.0.0.1", mem, nil)
	fetcher := newTestSwarm(t, "127.0.0.1", mem, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "junk")
	if err := os.WriteFile(path, make([]byte, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := snapshot.NewInfo(context.Background(), path, "data.db")
	if err != nil {
		t.Fatal(err)
	}
	ih, err := seeder.Seed(path, info)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err = fetcher.Fetch(ctx, ih, FetchOptions{Name: "data.db"})
	if !errors.Is(err, ErrCheck) || !errors.Is(err, snapshot.ErrNotSQLite) {
		t.Fatalf("fetch of zeros: %v, want ErrCheck and snapshot.ErrNotSQLite", err)
	}
	assertEmptyDir(t, fetcher.cfg.DataDir)
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind: %s", e.Name())
	}
}
