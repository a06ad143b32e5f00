package swarm

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

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
	nodes := startDHT(t, 6)
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
