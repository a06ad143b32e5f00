package swarm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/torrentdht"
)

// A fetch nobody can serve ends with its context, a second fetch of the
// same infohash meanwhile is refused as busy, and Close ends a fetch in
// flight; nothing is left behind.
func TestFetchLifecycle(t *testing.T) {
	mem := torrentdht.NewMemNetwork()
	sw := newTestSwarm(t, "127.0.0.1", mem, nil)
	ih := metainfo.Hash{1, 2, 3}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := sw.Fetch(ctx, ih, FetchOptions{Name: "data.db"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("fetch without peers: %v, want the context's deadline", err)
	}

	if _, err := sw.Fetch(context.Background(), ih, FetchOptions{}); err == nil {
		t.Fatal("fetch without a name: no error")
	}

	done := make(chan error, 1)
	go func() {
		_, err := sw.Fetch(context.Background(), ih, FetchOptions{Name: "data.db"})
		done <- err
	}()
	deadline := time.Now().Add(testTimeout)
	for !fetching(sw, ih) {
		if time.Now().After(deadline) {
			t.Fatal("the fetch did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := sw.Fetch(context.Background(), ih, FetchOptions{Name: "data.db"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second fetch: %v, want ErrBusy", err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("fetch after Close: %v, want ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Close did not end the fetch")
	}
	if _, err := sw.Fetch(context.Background(), ih, FetchOptions{Name: "data.db"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("fetch on a closed swarm: %v, want ErrClosed", err)
	}
	if _, err := sw.Seed("/nonexistent", metainfo.Info{}); err == nil {
		t.Fatal("seed on a closed swarm: no error")
	}
	assertEmptyDir(t, sw.cfg.DataDir)
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no data dir":   {},
		"bad address":   {DataDir: t.TempDir(), ListenAddr: "nonsense"},
		"negative rate": {DataDir: t.TempDir(), DownloadRate: -1},
		"bad port":      {DataDir: t.TempDir(), ListenAddr: "127.0.0.1:99999"},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func fetching(s *Swarm, ih metainfo.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.torrents[ih]
	return ok && e.fetching
}
