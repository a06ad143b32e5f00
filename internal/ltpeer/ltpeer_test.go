package ltpeer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// testTimeout is generous: the machine is shared and slow; nothing here
// asserts speed.
const testTimeout = 60 * time.Second

// startMesh starts n libtorrent peers that know each other and waits until
// each has the others in its routing table.
func startMesh(t *testing.T, ctx context.Context, n int) []*Peer {
	t.Helper()
	peers := make([]*Peer, n)
	for i := range peers {
		var boot []netip.AddrPort
		for _, q := range peers[:i] {
			boot = append(boot, q.Addr())
		}
		peers[i] = StartTest(t, Config{Bootstrap: boot})
	}
	for i, p := range peers {
		for _, q := range peers[i+1:] {
			if err := q.AddNode(ctx, p.Addr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range peers {
		if _, err := p.WaitNodes(ctx, n-1); err != nil {
			t.Fatal(err)
		}
	}
	return peers
}

func TestStartAndNodeID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peers := startMesh(t, ctx, 2)
	if v := peers[0].Version(); len(v) < 3 || v[:2] != "2." {
		t.Errorf("version %q, want libtorrent 2.x", v)
	}
	if peers[0].Port() == 0 || !peers[0].Addr().Addr().IsLoopback() {
		t.Errorf("addr %v, want loopback with a port", peers[0].Addr())
	}
	id0, err := peers[0].NodeID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := peers[1].Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].ID != id0 || nodes[0].Addr != peers[0].Addr() {
		t.Errorf("peer 1 routing table %v, want peer 0 (%x at %v)", nodes, id0, peers[0].Addr())
	}
}

func TestImmutablePutGet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peers := startMesh(t, ctx, 4)

	v := []byte("d1:ai42e1:b5:helloe")
	res, err := peers[0].PutImmutable(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha1.Sum(v); res.Target != want {
		t.Errorf("target %x, want sha1(v) %x", res.Target, want)
	}
	if res.Stored < 1 {
		t.Errorf("stored on %d nodes, want at least 1", res.Stored)
	}
	got, err := peers[3].GetImmutable(ctx, res.Target)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v) {
		t.Errorf("got %q, want %q", got, v)
	}
	_, err = peers[2].GetImmutable(ctx, sha1.Sum([]byte("3:nop")))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("get of a missing item: %v, want ErrNotFound", err)
	}
}

// bep44Buffer is the BEP 44 signature buffer, written out here so the test
// checks libtorrent's signature independently of the code under test.
func bep44Buffer(salt []byte, seq int64, v []byte) []byte {
	var b []byte
	if len(salt) > 0 {
		b = fmt.Appendf(b, "4:salt%d:%s", len(salt), salt)
	}
	b = fmt.Appendf(b, "3:seqi%de1:v", seq)
	return append(b, v...)
}

func TestMutablePutGet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peers := startMesh(t, ctx, 4)

	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	salt := []byte("db-name")

	for round, data := range []string{"first", "second"} {
		res, err := peers[0].PutMutable(ctx, priv, salt, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if res.Seq != int64(round+1) || res.Stored < 1 {
			t.Errorf("put %d: seq %d stored %d, want seq %d and at least 1 node", round, res.Seq, res.Stored, round+1)
		}
		if want := sha1.Sum(append(append([]byte{}, pub...), salt...)); res.Target != want {
			t.Errorf("target %x, want sha1(k||salt) %x", res.Target, want)
		}
		it, err := peers[2].GetMutable(ctx, pub, salt)
		if err != nil {
			t.Fatal(err)
		}
		wantV := []byte(strconv.Itoa(len(data)) + ":" + data)
		if !bytes.Equal(it.V, wantV) || it.Seq != res.Seq {
			t.Errorf("get: v %q seq %d, want %q seq %d", it.V, it.Seq, wantV, res.Seq)
		}
		if !ed25519.Verify(pub, bep44Buffer(salt, it.Seq, it.V), it.Sig[:]) {
			t.Errorf("libtorrent's signature does not verify with Go's ed25519")
		}
		// ed25519 is deterministic: libtorrent's signature from SecretKey(seed)
		// equals Go's from seed||pub.
		if goSig := ed25519.Sign(priv, bep44Buffer(salt, it.Seq, it.V)); !bytes.Equal(goSig, it.Sig[:]) {
			t.Errorf("libtorrent signature %x differs from Go's %x", it.Sig, goSig)
		}
	}
	_, err := peers[1].GetMutable(ctx, pub, []byte("other"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("get of a missing item: %v, want ErrNotFound", err)
	}
}

func TestMissingInterpreter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := Start(ctx, Config{Python: filepath.Join(t.TempDir(), "no-python")})
	if !errors.Is(err, ErrNoLibtorrent) {
		t.Fatalf("err %v, want ErrNoLibtorrent", err)
	}
}

func TestMissingModule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// A libtorrent module on PYTHONPATH that fails to import stands in for
	// a machine without python3-libtorrent.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "libtorrent.py"), []byte("raise ImportError('no libtorrent here')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(ctx, Config{Env: []string{"PYTHONPATH=" + dir}})
	if !errors.Is(err, ErrNoLibtorrent) {
		t.Fatalf("err %v, want ErrNoLibtorrent", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("apt-get install python3-libtorrent")) {
		t.Errorf("error %q does not say what to install", err)
	}
}

func TestClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := StartTest(t, Config{NoDHT: true})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.cmd.ProcessState == nil {
		t.Fatal("driver still running after Close")
	}
	if _, err := p.NodeID(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
	p.Close() // idempotent
}

// writeTorrent writes a single-file v1 torrent of data into dir and returns
// the .torrent path, the data directory and the infohash.
func writeTorrent(t *testing.T, name string, data []byte) (torrentPath, dataDir string, ih [20]byte) {
	t.Helper()
	dataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 32 << 10}
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

func TestTorrentSeedAndMagnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	data := make([]byte, 1<<20+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	torrentPath, dataDir, ih := writeTorrent(t, "snap.db", data)

	seeder := StartTest(t, Config{NoDHT: true})
	leecher := StartTest(t, Config{NoDHT: true})
	got, err := seeder.AddTorrentFile(ctx, torrentPath, AddOptions{SaveDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if got != ih {
		t.Fatalf("libtorrent infohash %x, want %x", got, ih)
	}
	if st, err := seeder.WaitComplete(ctx, ih); err != nil || !st.Seeding {
		t.Fatalf("seeder: %+v %v", st, err)
	}
	saveDir := t.TempDir()
	if err := leecher.AddMagnet(ctx, ih, AddOptions{SaveDir: saveDir, Peers: []netip.AddrPort{seeder.Addr()}}); err != nil {
		t.Fatal(err)
	}
	st, err := leecher.WaitComplete(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalWanted != int64(len(data)) || st.PayloadDownload < int64(len(data)) {
		t.Errorf("status %+v: want %d bytes downloaded", st, len(data))
	}
	fetched, err := os.ReadFile(filepath.Join(saveDir, "snap.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fetched, data) {
		t.Error("downloaded file differs from the seeded one")
	}
	if err := leecher.RemoveTorrent(ctx, ih, true); err != nil {
		t.Fatal(err)
	}
	if _, err := leecher.Status(ctx, ih); err == nil {
		t.Error("status of a removed torrent: no error")
	}
}

// TestConcurrentGets runs many immutable and mutable gets at once from
// several goroutines: each reply must reach its caller, while the driver
// handles the packet alerts it captures meanwhile.
func TestConcurrentGets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peers := startMesh(t, ctx, 4)
	values := make([][]byte, 8)
	for i := range values {
		values[i] = fmt.Appendf(nil, "d1:ii%de1:x%d:%se", i, i+1, bytes.Repeat([]byte{'x'}, i+1))
		if _, err := peers[i%4].PutImmutable(ctx, values[i]); err != nil {
			t.Fatal(err)
		}
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	salts := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}
	for i, salt := range salts {
		if _, err := peers[i].PutMutable(ctx, priv, salt, salt); err != nil {
			t.Fatal(err)
		}
	}
	n := 4 * (len(values) + len(salts))
	errs := make(chan error, n)
	for round := range 4 {
		for i, v := range values {
			go func() {
				got, err := peers[(i+round)%4].GetImmutable(ctx, sha1.Sum(v))
				if err == nil && !bytes.Equal(got, v) {
					err = fmt.Errorf("get %d: %q, want %q", i, got, v)
				}
				errs <- err
			}()
		}
		for i, salt := range salts {
			go func() {
				it, err := peers[(i+round)%4].GetMutable(ctx, priv.Public().(ed25519.PublicKey), salt)
				if err == nil && !bytes.Equal(it.V, []byte("1:"+string(salt))) {
					err = fmt.Errorf("get %q: %q", salt, it.V)
				}
				errs <- err
			}()
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestConfigLoopbackOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for _, cfg := range []Config{
		{Listen: "0.0.0.0:0"},
		{Listen: "localhost:6881"},
		{Bootstrap: []netip.AddrPort{netip.MustParseAddrPort("67.215.246.10:6881")}},
	} {
		if p, err := Start(ctx, cfg); !errors.Is(err, ErrConfig) {
			if p != nil {
				p.Close()
			}
			t.Errorf("Start(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}
