package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
)

// startSlowReader runs a reader `dhtdb serve` whose downloads are limited
// to rate, so that a fetch lasts long enough to be watched.
func startSlowReader(t *testing.T, dir, boot, rate string) {
	t.Helper()
	line := startBackground(t, "serve", "--data", dir, "--bootstrap", boot, "--listen", "127.0.0.1:0",
		"--http", "127.0.0.1:0", "--torrent", "127.0.0.1:0", "--poll", "1s", "--json", "--download-rate", rate)
	var ev serveEvent
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Event != "started" {
		t.Fatalf("serve output %q: %v", line, err)
	}
}

var fetchLineRE = regexp.MustCompile(`^fetch ([0-9a-f]{40}) (metadata, \d+ peers|` +
	`\d+\.\d/\d+\.\d (B|KiB|MiB), \d+/\d+ pieces, \d+ peers, (0 B/s|\d+\.\d (B|KiB|MiB)/s)(, checking)?)$`)

// TestFollowWaitProgress: `follow --wait` through a reader daemon prints the
// progress of the fetch as plain lines, then the status; with --json, one
// {"event":"fetch"} object per line, then the status object. Real
// processes: a testnet, a writer and two rate-limited readers.
func TestFollowWaitProgress(t *testing.T) {
	boot := startTestnet(t, 16)
	tmp := t.TempDir()
	wdir := filepath.Join(tmp, "writer")
	startServe(t, wdir, boot)
	key := filepath.Join(tmp, "owner.key")
	ok(t, &keygenResult{}, nil, "keygen", "--no-passphrase", "--out", key, "--json")
	var st daemon.Status
	ok(t, &st, nil, "create", "--data", wdir, "--key", key, "--json", "big")
	ok(t, &db.ExecResult{}, nil, "exec", "--data", wdir, "--json", "big", "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
	// About 3 MiB: 3 s or more at 1 MiB/s.
	ok(t, &db.ExecResult{}, nil, "exec", "--data", wdir, "--json", "big",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000) INSERT INTO t SELECT x, randomblob(1000) FROM c")
	var rep db.PublishReport
	ok(t, &rep, nil, "publish", "--data", wdir, "--json", "big")
	ih := rep.IH.String()

	r1, r2 := filepath.Join(tmp, "reader1"), filepath.Join(tmp, "reader2")
	startSlowReader(t, r1, boot, "1MB")
	startSlowReader(t, r2, boot, "1MB")

	// Plain lines: stdout is a pipe, --wait asked for.
	r := dhtdb(t, nil, "follow", "--data", r1, "--wait", st.Address)
	if r.code != 0 {
		t.Fatalf("follow --wait: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var bytesLines int
	for _, l := range lines[:len(lines)-1] {
		m := fetchLineRE.FindStringSubmatch(l)
		if m == nil || m[1] != ih {
			t.Fatalf("progress line %q (want a fetch line of %s); output:\n%s", l, ih, r.stdout)
		}
		if strings.Contains(l, "pieces") {
			bytesLines++
		}
	}
	if bytesLines < 2 {
		t.Fatalf("want at least 2 progress lines with bytes, got:\n%s", r.stdout)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, st.Address) || !strings.HasSuffix(last, "(in sync)") {
		t.Fatalf("last line %q, want the status in sync", last)
	}
	t.Logf("follow --wait:\n%s", r.stdout)

	// JSON lines.
	r = dhtdb(t, nil, "follow", "--data", r2, "--wait", "--json", st.Address)
	if r.code != 0 {
		t.Fatalf("follow --wait --json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var prev fetchEvent
	for i, l := range lines[:len(lines)-1] {
		var ev fetchEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event != "fetch" || ev.IH != ih {
			t.Fatalf("json progress line %q: %v", l, err)
		}
		if ev.BytesDone < prev.BytesDone || ev.BytesTotal != 0 && ev.BytesDone > ev.BytesTotal ||
			ev.PiecesDone > ev.PiecesTotal || i > 0 && ev.ElapsedMS < prev.ElapsedMS {
			t.Fatalf("json progress %+v after %+v", ev, prev)
		}
		prev = ev
	}
	if len(lines) < 3 || prev.BytesTotal == 0 {
		t.Fatalf("want at least 2 progress objects, the last with a size:\n%s", r.stdout)
	}
	var final daemon.Status
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || final.Current != ih || final.IH != ih {
		t.Fatalf("final status %q: %v", lines[len(lines)-1], err)
	}
	t.Logf("follow --wait --json: %d progress lines, last %+v", len(lines)-1, prev.FetchProgress)

	// Without a daemon the command runs one (unlimited: progress lines
	// may or may not come before the status).
	r3 := filepath.Join(tmp, "reader3")
	r = dhtdb(t, nil, "follow", "--data", r3, "--bootstrap", boot, "--listen", "127.0.0.1:0", "--wait", "--json", st.Address)
	if r.code != 0 {
		t.Fatalf("follow --wait --json without a daemon: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		var ev fetchEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event != "fetch" || ev.IH != ih {
			t.Fatalf("json progress line %q: %v", l, err)
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || final.Current != ih {
		t.Fatalf("final status without a daemon %q: %v", lines[len(lines)-1], err)
	}

	// Already synced: --wait returns at once with the status alone.
	r = dhtdb(t, nil, "follow", "--data", r1, "--wait", st.Address)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "(in sync)\n") {
		t.Fatalf("follow --wait when synced: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// status --watch prints the status again when a new version arrives,
	// and stops cleanly on SIGINT.
	var out syncBuffer
	watch := exec.Command(dhtdbBinary(t), "status", "--data", r1, "--watch", st.Address)
	watch.Stdout, watch.Stderr = &out, &out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	ok(t, &db.ExecResult{}, nil, "exec", "--data", wdir, "--json", "big", "UPDATE t SET body = randomblob(1000) WHERE id <= 500")
	ok(t, &rep, nil, "publish", "--data", wdir, "--json", "big")
	want := " seq 2 ih " + rep.IH.String() + " (in sync)\n"
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), want) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	watch.Process.Signal(os.Interrupt)
	if err := watch.Wait(); err != nil || !strings.Contains(out.String(), want) ||
		!strings.HasPrefix(out.String(), st.Address+" follower seq 1 ") {
		t.Fatalf("status --watch: %v\n%s", err, out.String())
	}
	t.Logf("status --watch:\n%s", out.String())
}
