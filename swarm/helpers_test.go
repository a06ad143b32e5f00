package swarm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/torrentdht"
)

// testTimeout bounds every fetch of the tests: generous, for a busy
// machine; a healthy run takes well under a second per fetch.
const testTimeout = 90 * time.Second

// makeDB creates dir/live.db with rows rows of about rowBytes each.
func makeDB(t testing.TB, dir string, rows, rowBytes int) string {
	t.Helper()
	path := filepath.Join(dir, "live.db")
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	execSQL(t, c, "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
	execSQL(t, c, "BEGIN")
	for i := range rows {
		execSQL(t, c, "INSERT INTO t (id, body) VALUES (?, ?)", i, rowBody(i, 0, rowBytes))
	}
	execSQL(t, c, "COMMIT")
	return path
}

// updateRows rewrites the bodies of rows ids at revision rev.
func updateRows(t testing.TB, path string, rev, rowBytes int, ids ...int) {
	t.Helper()
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	execSQL(t, c, "BEGIN")
	for _, i := range ids {
		execSQL(t, c, "UPDATE t SET body = ? WHERE id = ?", rowBody(i, rev, rowBytes), i)
	}
	execSQL(t, c, "COMMIT")
}

func execSQL(t testing.TB, c *sqlite.Conn, q string, args ...any) {
	t.Helper()
	if err := sqlitex.Execute(c, q, &sqlitex.ExecOptions{Args: args}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rowBody(i, rev, n int) string {
	s := fmt.Sprintf("row %d rev %d ", i, rev)
	return s + strings.Repeat(string(rune('a'+(i+rev)%26)), max(0, n-len(s)))
}

// snap snapshots the live database into dir/out and returns the version.
func snap(t testing.TB, live, out, name string) Version {
	t.Helper()
	ctx := context.Background()
	if err := snapshot.Create(ctx, live, out); err != nil {
		t.Fatal(err)
	}
	info, err := snapshot.NewInfo(ctx, out, name)
	if err != nil {
		t.Fatal(err)
	}
	return Version{Path: out, Info: info}
}

// newTestSwarm starts a swarm listening on ip (a 127/8 address, so that
// a ban of one test peer does not hit the others) with mem as its DHT.
func newTestSwarm(t testing.TB, ip string, mem *torrentdht.MemNetwork, mod func(*Config)) *Swarm {
	t.Helper()
	cfg := Config{
		ListenAddr:       ip + ":0",
		DataDir:          t.TempDir(),
		DHTRetry:         50 * time.Millisecond,
		ProgressInterval: 50 * time.Millisecond,
	}
	if os.Getenv("SWARM_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("swarm", ip)
	}
	if mem != nil {
		cfg.DHT = mem.Node(netip.AddrPortFrom(netip.MustParseAddr(ip), 1))
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// events collects progress events safely.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) last() (Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.all) == 0 {
		return Event{}, false
	}
	return e.all[len(e.all)-1], true
}

func sameContent(t testing.TB, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s and %s differ", a, b)
	}
}
