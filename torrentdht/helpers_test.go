package torrentdht

import (
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/time/rate"
)

// testTorrent writes size random bytes to dir/name and returns the info
// bytes and infohash of a single-file torrent of it.
func testTorrent(t *testing.T, dir, name string, size int) ([]byte, metainfo.Hash) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 32 << 10}
	if err := info.BuildFromFilePath(path); err != nil {
		t.Fatal(err)
	}
	b, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return b, metainfo.HashBytes(b)
}

// newClient returns a torrent client on 127.0.0.1 over TCP whose only peer
// source is srv: no anacrolix DHT, no trackers, no PEX, no web seeds.
func newClient(t *testing.T, dir, host string, srv torrent.DhtServer) *torrent.Client {
	t.Helper()
	cfg := torrent.NewDefaultClientConfig()
	cfg.NoDHT = true
	cfg.DisableTrackers = true
	cfg.DisablePEX = true
	cfg.DisableWebseeds = true
	cfg.DisableWebtorrent = true
	cfg.DisableUTP = true
	cfg.DisableIPv6 = true
	cfg.NoDefaultPortForwarding = true
	cfg.ListenHost = func(string) string { return host }
	cfg.ListenPort = 0
	cfg.Seed = true
	cfg.DataDir = dir
	cfg.UploadRateLimiter = rate.NewLimiter(rate.Inf, 0)
	cfg.DefaultStorage = storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir:   dir,
		PieceCompletion: storage.NewMapPieceCompletion(),
		UsePartFiles:    g.Some(false),
	})
	cfg.Slogger = slog.New(slog.DiscardHandler)
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	cl.AddDhtServer(srv)
	return cl
}
