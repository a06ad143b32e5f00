package swarm

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/internal/dhttest"
	"github.com/dhtdb/dhtdb/internal/ltpeer"
	"github.com/dhtdb/dhtdb/snapshot"
)

// libtorrent 2.0.8 downloads one of our snapshots given its infohash and
// our client as a peer (metadata by BEP 9 from us).
func TestInteropLibtorrentFetchesOurSnapshot(t *testing.T) {
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 5000, 200), filepath.Join(dir, "v.db"), "data.db")
	sw := newTestSwarm(t, "127.0.0.1", nil, nil)
	ih, err := sw.Seed(v.Path, v.Info)
	if err != nil {
		t.Fatal(err)
	}
	lt := ltpeer.StartTest(t, ltpeer.Config{NoDHT: true})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ltDir := t.TempDir()
	if err := lt.AddMagnet(ctx, ih, ltpeer.AddOptions{SaveDir: ltDir, Peers: []netip.AddrPort{sw.Addr()}}); err != nil {
		t.Fatal(err)
	}
	st, err := lt.WaitComplete(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("libtorrent %s: %d bytes, downloaded %d (payload %d)", lt.Version(), st.TotalWanted, st.Download, st.PayloadDownload)
	sameContent(t, filepath.Join(ltDir, "data.db"), v.Path)
}

// We download a snapshot libtorrent seeds: its metadata and pieces come
// from libtorrent, and the result passes our checks.
func TestInteropWeFetchFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 5000, 200), filepath.Join(dir, "v.db"), "data.db")
	ltDir := t.TempDir()
	data, err := os.ReadFile(v.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ltDir, "data.db"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := snapshot.MetaInfo(v.Info)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.Create(filepath.Join(dir, "v.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mi.Write(tf); err != nil {
		t.Fatal(err)
	}
	tf.Close()

	lt := ltpeer.StartTest(t, ltpeer.Config{NoDHT: true})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ih, err := lt.AddTorrentFile(ctx, tf.Name(), ltpeer.AddOptions{SaveDir: ltDir})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := snapshot.InfoHash(v.Info); ih != want {
		t.Fatalf("libtorrent's infohash %x, ours %x", ih, want)
	}
	if _, err := lt.WaitComplete(ctx, ih); err != nil {
		t.Fatal(err)
	}

	sw := newTestSwarm(t, "127.0.0.1", nil, nil)
	path, err := sw.Fetch(ctx, ih, FetchOptions{Name: "data.db", Peers: []netip.AddrPort{lt.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	sameContent(t, path, v.Path)
}

// libtorrent announces its seed into our DHT, and we find it there: the
// fetch is given no peer, only the infohash.
func TestInteropFetchFromLibtorrentThroughOurDHT(t *testing.T) {
	nodes := dhttest.Loopback(t, 6)
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 2000, 200), filepath.Join(dir, "v.db"), "data.db")
	ltDir := t.TempDir()
	data, err := os.ReadFile(v.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ltDir, "data.db"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := snapshot.MetaInfo(v.Info)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.Create(filepath.Join(dir, "v.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mi.Write(tf); err != nil {
		t.Fatal(err)
	}
	tf.Close()

	lt := ltpeer.StartTest(t, ltpeer.Config{Bootstrap: []netip.AddrPort{nodes[0].Addr(), nodes[1].Addr()}})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := lt.WaitNodes(ctx, 3); err != nil {
		t.Fatal(err)
	}
	ih, err := lt.AddTorrentFile(ctx, tf.Name(), ltpeer.AddOptions{SaveDir: ltDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lt.WaitComplete(ctx, ih); err != nil {
		t.Fatal(err)
	}
	sw, err := New(Config{ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), DHT: nodes[5]})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	path, err := sw.Fetch(ctx, ih, FetchOptions{Name: "data.db"})
	if err != nil {
		t.Fatal(err)
	}
	sameContent(t, path, v.Path)
}

// libtorrent, whose only DHT contacts are our nodes, finds our seeder by
// infohash alone (our swarm announced it through our DHT) and downloads.
func TestInteropLibtorrentFindsOurSeedThroughOurDHT(t *testing.T) {
	nodes := dhttest.Loopback(t, 6)
	dir := t.TempDir()
	v := snap(t, makeDB(t, dir, 2000, 200), filepath.Join(dir, "v.db"), "data.db")
	sw, err := New(Config{ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), DHT: nodes[5]})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	ih, err := sw.Seed(v.Path, v.Info)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// Our announce is in the DHT before libtorrent looks.
	for {
		peers, err := nodes[0].GetPeers(ctx, ih)
		if err == nil && len(peers) > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("our seeder's announce never reached the DHT")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lt := ltpeer.StartTest(t, ltpeer.Config{Bootstrap: []netip.AddrPort{nodes[0].Addr(), nodes[1].Addr()}})
	if _, err := lt.WaitNodes(ctx, 3); err != nil {
		t.Fatal(err)
	}
	ltDir := t.TempDir()
	if err := lt.AddMagnet(ctx, ih, ltpeer.AddOptions{SaveDir: ltDir}); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := lt.Status(ctx, ih)
		if err != nil {
			t.Fatal(err)
		}
		if st.Complete() {
			break
		}
		if st.Peers == 0 {
			lt.ForceAnnounce(ctx, ih)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("libtorrent did not complete: %+v", st)
		case <-time.After(500 * time.Millisecond):
		}
	}
	sameContent(t, filepath.Join(ltDir, "data.db"), v.Path)
}
