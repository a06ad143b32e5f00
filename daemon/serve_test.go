package daemon

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/keyfile"
	"github.com/dhtdb/dhtdb/syncer"
)

// testnet starts n DHT nodes on loopback, joined through the first.
func testnet(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for i := range n {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := dht.Config{Conn: conn}
		if i > 0 {
			cfg.Bootstrap = addrs[:1]
		}
		node, err := dht.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		if i > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := node.Bootstrap(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
		addrs = append(addrs, node.Addr().String())
	}
	return addrs
}

func startDaemon(t *testing.T, dir string, boot []string) (*Daemon, *apiClient) {
	t.Helper()
	d, err := Start(context.Background(), Config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0", DHTAddr: "127.0.0.1:0", TorrentAddr: "127.0.0.1:0",
		Bootstrap: boot,
		Sync:      syncer.Config{PollInterval: 300 * time.Millisecond, FetchTimeout: 5 * time.Second, RetryInterval: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if info, err := ReadInfo(dir); err != nil || info.HTTP != d.Info().HTTP {
		t.Fatalf("daemon info file: %+v %v", info, err)
	}
	return d, &apiClient{t: t, url: "http://" + d.Info().HTTP}
}

// TestDaemonsOnLoopback: a writer and a reader daemon, the real DHT node,
// torrent client and snapshots on loopback, driven through the HTTP API.
func TestDaemonsOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	boot := testnet(t, 6)
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	_, w := startDaemon(t, t.TempDir(), boot)
	readerDir := t.TempDir()
	rd, r := startDaemon(t, readerDir, boot)

	var st Status
	if code := w.do("POST", "/v1/databases", map[string]string{"name": "shop", "key_file": keyPath}, &st); code != 200 {
		t.Fatalf("create: %d %+v", code, st)
	}
	w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "CREATE TABLE t(x INTEGER, pad TEXT)"}, nil)
	for i := range 200 {
		w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "INSERT INTO t VALUES (?, printf('%0500d', ?))", "args": []any{i, i}}, nil)
	}
	var rep map[string]any
	if code := w.do("POST", "/v1/databases/shop/publish", nil, &rep); code != 200 {
		t.Fatalf("publish: %d %v", code, rep)
	}
	t.Logf("published: %v", rep)
	if code := r.do("POST", "/v1/follow", map[string]string{"db": st.Address}, nil); code != 200 {
		t.Fatalf("follow: %d", code)
	}
	rows := func(c *apiClient) float64 {
		var out struct {
			Rows [][]any `json:"rows"`
		}
		if c.do("POST", "/v1/databases/shop/query", map[string]any{"sql": "SELECT count(*) FROM t"}, &out) != 200 || len(out.Rows) != 1 {
			return -1
		}
		return out.Rows[0][0].(float64)
	}
	eventually(t, "the reader to hold 200 rows", func() bool { return rows(r) == 200 })

	// A small change: the reader catches up (by delta).
	w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "INSERT INTO t VALUES (1000, 'new')"}, nil)
	w.do("POST", "/v1/databases/shop/publish", nil, nil)
	eventually(t, "the reader to hold 201 rows", func() bool { return rows(r) == 201 })

	// The reader restarts and keeps its copy and state.
	rd.Close()
	_, r2 := startDaemon(t, readerDir, boot)
	if got := rows(r2); got != 201 {
		t.Errorf("after restart the reader holds %v rows, want 201", got)
	}
	eventually(t, "the restarted reader's status", func() bool {
		var st Status
		return r2.do("GET", "/v1/databases/shop", nil, &st) == 200 && st.Seq == 2 && st.Behind == 0
	})
}
