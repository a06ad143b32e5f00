package torrentdht

import (
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/internal/dhttest"
)

// Issue 2, item 6: two anacrolix torrent clients whose only peer source is
// our DHT node (NoDHT, no trackers, no PEX, no peers added; TCP on
// loopback) complete a download: the seeder announces through its node,
// the leecher finds it with get_peers and gets the metadata by BEP 9.
func TestClientsFindEachOtherThroughOurDHT(t *testing.T) {
	nodes := dhttest.Loopback(t, 10)
	newSrv := func(n *dht.Node) *Server {
		srv, err := New(Config{Node: n, Retry: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	seedDir, leechDir := t.TempDir(), t.TempDir()
	infoBytes, ih := testTorrent(t, seedDir, "data.db", 1<<20)
	seedSrv, leechSrv := newSrv(nodes[8]), newSrv(nodes[9])
	seeder := newClient(t, seedDir, "127.0.0.1", seedSrv)
	leecher := newClient(t, leechDir, "127.0.0.1", leechSrv)
	downloadByInfohash(t, seeder, leecher, infoBytes, ih, seedDir, leechDir)

	st := leechSrv.Stats().(Stats)
	if st.PeersFound == 0 {
		t.Errorf("leecher's adapter found no peers (%+v), yet the download completed", st)
	}
	// The only connection the leecher has is to the seeder, found by the DHT.
	lt, _ := leecher.Torrent(ih)
	for _, pc := range lt.PeerConns() {
		if pc.Discovery != "Hg" && pc.Discovery != "I" {
			t.Errorf("peer %v came from %q, not from the DHT", pc.RemoteAddr, pc.Discovery)
		}
	}
}
