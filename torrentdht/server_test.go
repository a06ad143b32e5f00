package torrentdht

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent"

	"github.com/dhtdb/dhtdb/clock"
)

func TestConfigRejectsMissingNode(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a node: no error")
	}
	if _, err := New(Config{Node: NewMemNetwork().Node(netip.MustParseAddrPort("127.0.0.1:1")), Retry: -1}); err == nil {
		t.Fatal("New with a negative retry: no error")
	}
}

func TestAddNodeRejectsBadAddresses(t *testing.T) {
	srv, err := New(Config{Node: NewMemNetwork().Node(netip.MustParseAddrPort("127.0.0.1:1"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, ni := range []krpc.NodeInfo{
		{Addr: krpc.NodeAddr{IP: nil, Port: 6881}},
		{Addr: krpc.NodeAddr{IP: net.IP{1, 2, 3}, Port: 6881}},
		{Addr: krpc.NodeAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0}},
		{Addr: krpc.NodeAddr{IP: net.IPv4(127, 0, 0, 1), Port: 70000}},
	} {
		if err := srv.AddNode(ni); err == nil {
			t.Errorf("AddNode(%v): no error", ni.Addr)
		}
	}
	if err := srv.AddNode(krpc.NodeInfo{Addr: krpc.NodeAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6881}}); err != nil {
		t.Errorf("AddNode of a good address: %v", err)
	}
	srv.Ping(nil) // must not panic
	srv.Ping(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	if got := srv.Addr().String(); got != "127.0.0.1:1" {
		t.Errorf("Addr = %s, want 127.0.0.1:1", got)
	}
	var buf bytes.Buffer
	srv.WriteStatus(&buf)
	if !strings.Contains(buf.String(), "127.0.0.1:1") {
		t.Errorf("WriteStatus = %q, want the node address in it", buf.String())
	}
}

// An announce made before anyone seeds keeps looking, backing off, and
// delivers the seeder once it appears.
func TestAnnounceRetriesUntilPeersAppear(t *testing.T) {
	mem := NewMemNetwork()
	clk := clock.NewFake(time.Unix(0, 0))
	srv, err := New(Config{
		Node:     mem.Node(netip.MustParseAddrPort("127.0.0.2:7000")),
		Retry:    time.Second,
		Interval: time.Minute,
		Clock:    clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	ih := [20]byte{1, 2, 3}
	ann, err := srv.Announce(ih, 6881, true)
	if err != nil {
		t.Fatal(err)
	}
	waitLookups(t, srv, 1)
	mem.SetFailure(errors.New("network down"))
	clk.Advance(time.Second) // second lookup, fails
	waitLookups(t, srv, 2)
	mem.SetFailure(nil)
	seeder := mem.Node(netip.MustParseAddrPort("127.0.0.3:7000"))
	if _, err := seeder.Announce(context.Background(), ih, 5555, false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // the back-off doubled
	select {
	case pv := <-ann.Peers():
		if len(pv.Peers) != 1 || pv.Peers[0].String() != "127.0.0.3:5555" {
			t.Fatalf("peers = %v, want [127.0.0.3:5555] (the explicit port, not an implied one)", pv.Peers)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no peers delivered")
	}
	st := srv.Stats().(Stats)
	if st.LookupErrs != 1 || st.Announces != 1 {
		t.Errorf("stats = %+v, want 1 failed lookup and 1 open announce", st)
	}
	// The seeder sees us too: we announced our port, not the DHT's.
	got, _ := seeder.Announce(context.Background(), ih, 0, false)
	if len(got) != 2 {
		t.Errorf("seeder's lookup = %v, want itself and 127.0.0.2:6881", got)
	}
	ann.Close()
	ann.Close()
	select {
	case _, ok := <-ann.Peers():
		if ok {
			t.Fatal("peers after close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peers channel not closed after Close")
	}
}

func waitLookups(t *testing.T, srv *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.lookups.Load() < n || !srv.sleeping() {
		if time.Now().After(deadline) {
			t.Fatalf("lookups = %d, want %d", srv.lookups.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Two anacrolix clients whose only peer source is the adapter (here over
// the in-memory directory) complete a download by infohash alone, the
// metadata coming by BEP 9.
func TestClientsFindEachOtherThroughAdapter(t *testing.T) {
	mem := NewMemNetwork()
	seedDir, leechDir := t.TempDir(), t.TempDir()
	infoBytes, ih := testTorrent(t, seedDir, "data.db", 300<<10)

	newSrv := func(ap string) *Server {
		srv, err := New(Config{Node: mem.Node(netip.MustParseAddrPort(ap)), Retry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	seeder := newClient(t, seedDir, "127.0.0.1", newSrv("127.0.0.1:7001"))
	leecher := newClient(t, leechDir, "127.0.0.1", newSrv("127.0.0.1:7002"))
	downloadByInfohash(t, seeder, leecher, infoBytes, ih, seedDir, leechDir)
}

func downloadByInfohash(t *testing.T, seeder, leecher *torrent.Client, infoBytes []byte, ih [20]byte, seedDir, leechDir string) {
	t.Helper()
	st, _ := seeder.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, InfoBytes: infoBytes})
	if err := st.VerifyData(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.Complete().On():
	case <-time.After(time.Minute):
		t.Fatal("seeder's torrent is not complete")
	}
	lt, _ := leecher.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-lt.GotInfo():
	case <-ctx.Done():
		t.Fatal("no metadata within a minute")
	}
	lt.DownloadAll()
	select {
	case <-lt.Complete().On():
	case <-ctx.Done():
		t.Fatalf("download incomplete within a minute: %d of %d bytes", lt.BytesCompleted(), lt.Length())
	}
	want, _ := os.ReadFile(filepath.Join(seedDir, "data.db"))
	got, err := os.ReadFile(filepath.Join(leechDir, "data.db"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("downloaded file differs from the seeded one (err %v)", err)
	}
}
