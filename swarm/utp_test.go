package swarm

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dhtdb/dhtdb/torrentdht"
)

// With uTP switched on besides TCP, a fetch still completes (TCP carries
// it on loopback; the option must not break the client).
func TestFetchWithUTPEnabled(t *testing.T) {
	mem := torrentdht.NewMemNetwork()
	utp := func(c *Config) { c.UTP = true }
	seeder := newTestSwarm(t, "127.0.0.1", mem, utp)
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 2000, 200), filepath.Join(dir, "v.db"), "data.db")
	ih, err := seeder.Seed(v.Path, v.Info)
	if err != nil {
		t.Fatal(err)
	}
	fetcher := newTestSwarm(t, "127.0.0.1", mem, utp)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	path, err := fetcher.Fetch(ctx, ih, FetchOptions{Name: "data.db"})
	if err != nil {
		t.Fatal(err)
	}
	sameContent(t, path, v.Path)
}
