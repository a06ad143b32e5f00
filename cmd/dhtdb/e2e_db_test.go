package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
)

// startServe runs `dhtdb serve` on loopback in the background and returns
// what it printed when it started.
func startServe(t *testing.T, dir, boot string) serveEvent {
	t.Helper()
	line := startBackground(t, "serve", "--data", dir, "--bootstrap", boot, "--listen", "127.0.0.1:0",
		"--http", "127.0.0.1:0", "--torrent", "127.0.0.1:0", "--poll", "1s", "--json",
		// Explicit publishes only: the automatic one would race with them.
		"--debounce", "1h", "--debounce-max", "1h")
	var ev serveEvent
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("serve output %q: %v", line, err)
	}
	if ev.Event != "started" || !strings.HasPrefix(ev.HTTP, "127.0.0.1:") || ev.Data != dir {
		t.Fatalf("serve started: %+v", ev)
	}
	return ev
}

// waitRows polls `dhtdb query` until it returns want rows.
func waitRows(t *testing.T, dir, ref, sql string, want int) db.Rows {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last cliResult
	for time.Now().Before(deadline) {
		last = dhtdb(t, nil, "query", "--data", dir, "--json", ref, sql)
		var rows db.Rows
		if last.code == 0 && json.Unmarshal([]byte(last.stdout), &rows) == nil && len(rows.Rows) == want {
			return rows
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("query %s on %s never returned %d rows; last: exit %d %s%s", sql, dir, want, last.code, last.stdout, last.stderr)
	return db.Rows{}
}

// TestEndToEndDatabase: a testnet, a writer and a reader daemon as
// separate processes, driven through the CLI as a user would.
func TestEndToEndDatabase(t *testing.T) {
	boot := startTestnet(t, 20)
	tmp := t.TempDir()
	wdir, rdir := filepath.Join(tmp, "writer"), filepath.Join(tmp, "reader")
	startServe(t, wdir, boot)
	startServe(t, rdir, boot)
	key := filepath.Join(tmp, "owner.key")
	ok(t, &keygenResult{}, nil, "keygen", "--no-passphrase", "--out", key, "--json")

	var st daemon.Status
	ok(t, &st, nil, "create", "--data", wdir, "--key", key, "--json", "notes")
	if st.Role != db.RoleOwner || !strings.HasPrefix(st.Address, "dhtdb://") || !strings.HasSuffix(st.Address, "/notes") {
		t.Fatalf("create: %+v", st)
	}
	addr := st.Address
	ok(t, &db.ExecResult{}, nil, "exec", "--data", wdir, "--json", "notes", "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
	var ex db.ExecResult
	ok(t, &ex, nil, "exec", "--data", wdir, "--json", "notes", "INSERT INTO t (body) VALUES (?), (?)", "hello", "world")
	if ex.Changes != 2 || ex.LastInsertID != 2 {
		t.Fatalf("exec: %+v", ex)
	}
	var rep db.PublishReport
	ok(t, &rep, nil, "publish", "--data", wdir, "--json", "notes")
	if rep.Seq != 1 || rep.Put.Stored < 1 {
		t.Fatalf("publish: %+v", rep)
	}

	// The reader follows by magnet and sees the rows.
	ok(t, &st, nil, "follow", "--data", rdir, "--json", st.Magnet)
	if st.Role != db.RoleFollower || st.Address != addr {
		t.Fatalf("follow: %+v", st)
	}
	rows := waitRows(t, rdir, addr, "SELECT body FROM t ORDER BY id", 2)
	if rows.Rows[0][0] != "hello" || rows.Rows[1][0] != "world" {
		t.Fatalf("reader rows: %+v", rows)
	}

	// A second version reaches the reader by its poll.
	ok(t, &ex, nil, "exec", "--data", wdir, "--json", addr, "INSERT INTO t (body) VALUES ('again')")
	ok(t, &rep, nil, "publish", "--data", wdir, "--json", "notes")
	if rep.Seq != 2 {
		t.Fatalf("second publish: %+v", rep)
	}
	waitRows(t, rdir, addr, "SELECT body FROM t", 3)
	r := dhtdb(t, nil, "status", "--data", rdir, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Seq != 2 || st.Current != rep.IH.String() {
		t.Fatalf("reader status: %s (%v)", r.stdout, err)
	}

	// An encrypted key: the CLI asks for its passphrase (here from the
	// environment) and hands it to the daemon, which keeps the key.
	encKey := filepath.Join(tmp, "enc.key")
	pass := []string{"DHTDB_PASSPHRASE=demo pass"}
	ok(t, &keygenResult{}, pass, "keygen", "--out", encKey, "--work-factor", "10", "--json")
	fails(t, 1, "passphrase", nil, "create", "--data", wdir, "--key", encKey, "secret")
	ok(t, &st, pass, "create", "--data", wdir, "--key", encKey, "--json", "secret")
	ok(t, &ex, nil, "exec", "--data", wdir, "--json", "secret", "CREATE TABLE s (x)")
	ok(t, &rep, nil, "publish", "--data", wdir, "--json", "secret")
	if rep.Seq != 1 {
		t.Fatalf("publish with an encrypted key: %+v", rep)
	}

	// What the reader may not do.
	fails(t, 1, "not the owner", nil, "exec", "--data", rdir, addr, "DELETE FROM t")
	fails(t, 2, "not a local name", nil, "follow", "--data", rdir, "notes")
	fails(t, 1, "no such database", nil, "query", "--data", rdir, "nosuch", "SELECT 1")
	fails(t, 1, "owns the database", nil, "unfollow", "--data", wdir, "notes")
	ok(t, &map[string]string{}, nil, "unfollow", "--data", rdir, "--json", addr)
	fails(t, 1, "no such database", nil, "status", "--data", rdir, addr)
}

// TestDatabaseOffline: without a daemon, the local commands work on the
// data directory itself and need no network.
func TestDatabaseOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key := filepath.Join(dir, "owner.key")
	fails(t, 1, "dhtdb keygen --out", nil, "create", "--data", dir, "offline")
	ok(t, &keygenResult{}, nil, "keygen", "--no-passphrase", "--out", key, "--json")
	var st daemon.Status
	ok(t, &st, nil, "create", "--data", dir, "--json", "offline") // default key: DATA/owner.key
	ok(t, &db.ExecResult{}, nil, "exec", "--data", dir, "--json", "offline", "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
	ok(t, &db.ExecResult{}, nil, "exec", "--data", dir, "--json", "offline", "INSERT INTO kv VALUES (?, ?)", "a", "41")
	var rows db.Rows
	ok(t, &rows, nil, "query", "--data", dir, "--json", "offline", "SELECT k, v + 1 FROM kv")
	if len(rows.Rows) != 1 || rows.Rows[0][0] != "a" || rows.Rows[0][1] != 42.0 {
		t.Fatalf("rows %+v", rows)
	}
	r := dhtdb(t, nil, "query", "--data", dir, "offline", "SELECT k, v FROM kv")
	if r.code != 0 || r.stdout != "k  v\na  41\n" {
		t.Fatalf("text query: %q %s", r.stdout, r.stderr)
	}
	ok(t, &st, nil, "status", "--data", dir, "--json", "offline")
	if st.Role != db.RoleOwner || st.Seq != 0 {
		t.Fatalf("status %+v", st)
	}
	fails(t, 1, "already exists", nil, "create", "--data", dir, "offline")
	fails(t, 2, "want DB SQL", nil, "exec", "--data", dir, "offline")
}
