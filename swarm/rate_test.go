package swarm

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/torrentdht"
)

// The download and upload limits hold a fetch to about the configured
// rate. Tolerant: it only asserts the fetch took at least half the time the
// limit implies (a busy machine only makes it slower).
func TestRateLimits(t *testing.T) {
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 5000, 200), filepath.Join(dir, "v.db"), "data.db")
	const limit = 512 << 10
	for _, tc := range []struct {
		name          string
		seeder, leech func(*Config)
	}{
		{"download", nil, func(c *Config) { c.DownloadRate = limit }},
		{"upload", func(c *Config) { c.UploadRate = limit }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := torrentdht.NewMemNetwork()
			seeder := newTestSwarm(t, "127.0.0.1", mem, tc.seeder)
			ih, err := seeder.Seed(v.Path, v.Info)
			if err != nil {
				t.Fatal(err)
			}
			fetcher := newTestSwarm(t, "127.0.0.1", mem, tc.leech)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			var started time.Time
			var evs events
			progress := func(ev Event) {
				if ev.Phase == PhaseDownload && started.IsZero() {
					started = time.Now()
				}
				evs.add(ev)
			}
			if _, err := fetcher.Fetch(ctx, ih, FetchOptions{Name: "data.db", Progress: progress}); err != nil {
				t.Fatal(err)
			}
			took := time.Since(started)
			burst := int64(limit / 4)
			want := time.Duration(float64(v.Info.Length-burst) / limit * float64(time.Second))
			t.Logf("%d bytes in %v: %.0f KiB/s with a limit of %d KiB/s", v.Info.Length, took.Round(time.Millisecond),
				float64(v.Info.Length)/took.Seconds()/1024, limit>>10)
			if took < want/2 {
				t.Errorf("fetch took %v, want at least %v at %d B/s", took, want/2, limit)
			}
		})
	}
}
