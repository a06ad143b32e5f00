package interop

import (
	"bytes"
	"crypto/sha1"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/internal/ltpeer"
)

// TestPeersThroughOurNodes: BEP 5 peer discovery between libtorrent and our
// nodes. libtorrent's announce is stored by our nodes and found by our
// GetPeers; our Announce is found by libtorrent's get_peers; and a
// libtorrent leecher whose only DHT contacts are our nodes finds a
// libtorrent seeder through them and downloads a torrent by infohash alone.
func TestPeersThroughOurNodes(t *testing.T) {
	ctx := testCtx(t)
	ours := startOursN(t, 4, nil)
	joinOurs(t, ctx, ours, ourAddrs(ours), len(ours)-1)
	seeder := ltpeer.StartTest(t, ltpeer.Config{})
	leecher := ltpeer.StartTest(t, ltpeer.Config{})
	lts := []*ltpeer.Peer{seeder, leecher}
	introduce(t, ctx, lts, ourAddrs(ours)) // the libtorrent peers are not told of each other
	waitTables(t, ctx, lts, len(ours))

	data := make([]byte, 300<<10+7)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	torrentPath, dataDir, ih := writeTorrent(t, "snapshot.db", data)
	if _, err := seeder.AddTorrentFile(ctx, torrentPath, ltpeer.AddOptions{SaveDir: dataDir}); err != nil {
		t.Fatal(err)
	}
	if st, err := seeder.WaitComplete(ctx, ih); err != nil || !st.Seeding {
		t.Fatalf("seeder: %+v, %v", st, err)
	}
	if err := seeder.ForceAnnounce(ctx, ih); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "our GetPeers to find libtorrent's announce", func() bool {
		peers, err := ours[3].GetPeers(ctx, ih)
		return err == nil && slices.Contains(peers, seeder.Addr())
	})

	other := sha1.Sum([]byte("announced by dhtdb"))
	ourPeer := netip.MustParseAddrPort("127.0.0.1:4321")
	if _, err := ours[1].Announce(ctx, other, int(ourPeer.Port()), false); err != nil {
		t.Fatalf("our announce: %v", err)
	}
	waitFor(t, ctx, "libtorrent's get_peers to find our announce", func() bool {
		peers, err := leecher.GetPeers(ctx, other)
		return err == nil && slices.Contains(peers, ourPeer)
	})

	saveDir := t.TempDir()
	if err := leecher.AddMagnet(ctx, ih, ltpeer.AddOptions{SaveDir: saveDir}); err != nil {
		t.Fatal(err)
	}
	// The leecher looks peers up when the torrent starts; should that lookup
	// miss (a busy machine), ask it to announce (and look up) again.
	for {
		st, err := leecher.Status(ctx, ih)
		if err != nil {
			t.Fatal(err)
		}
		if st.Complete() {
			break
		}
		if st.Peers == 0 {
			if err := leecher.ForceAnnounce(ctx, ih); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("leecher did not complete: %+v", st)
		case <-time.After(500 * time.Millisecond):
		}
	}
	got, err := os.ReadFile(filepath.Join(saveDir, "snapshot.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("the leecher's file differs from the seeded one")
	}
}

// writeTorrent writes a single-file v1 torrent of data and returns the
// .torrent path, the directory holding the data, and the infohash.
func writeTorrent(t *testing.T, name string, data []byte) (torrentPath, dataDir string, ih [20]byte) {
	t.Helper()
	dataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 64 << 10}
	if err := info.BuildFromFilePath(filepath.Join(dataDir, name)); err != nil {
		t.Fatal(err)
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := metainfo.MetaInfo{InfoBytes: infoBytes}
	torrentPath = filepath.Join(t.TempDir(), name+".torrent")
	f, err := os.Create(torrentPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := mi.Write(f); err != nil {
		t.Fatal(err)
	}
	return torrentPath, dataDir, mi.HashInfoBytes()
}
