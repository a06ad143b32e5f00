package multiwriter

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEndToEndThreeWriters: 3 writer processes, one key, 50 commits each at
// random moments, publishing concurrently (automatically after writes, and
// explicitly now and then): a reader ends with all 150 and every writer
// reports all its writes published.
func TestEndToEndThreeWriters(t *testing.T) {
	const writers, commits = 3, 50
	ws, boot, addr := writersNet(t, writers)
	var wg sync.WaitGroup
	for wi, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(wi), 9))
			for i := range commits {
				body := map[string]any{"sql": "INSERT INTO log VALUES(?, ?, ?)", "args": []any{wi, i, "x"}}
				if code, msg := w.api("POST", apiDBPath(addr)+"/exec", body, nil); code != http.StatusOK {
					t.Errorf("writer %d exec %d: %d %s", wi, i, code, msg)
					return
				}
				time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
				if rng.IntN(10) == 0 {
					w.api("POST", apiDBPath(addr)+"/publish", nil, nil) // a lost race is retried by the daemon
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Each writer reports all its writes published: its publish (which
	// catches up first, and is a no-op when nothing is new) counts what
	// its journal still holds unconfirmed.
	for i, w := range ws {
		eventually(t, 4*time.Minute, fmt.Sprintf("writer %d: all writes published (status %+v)", i, w.status(addr)), func() bool {
			var rep struct {
				Pending int `json:"pending_writes"`
			}
			code, _ := w.api("POST", apiDBPath(addr)+"/publish", nil, &rep)
			return code == http.StatusOK && rep.Pending == 0 && w.status(addr).PendingWrites == 0
		})
	}
	r := startServeProc(t, boot)
	r.must("POST", "/v1/follow", map[string]any{"db": addr}, nil)
	eventually(t, 3*time.Minute, "the reader holds 150 commits", func() bool {
		return r.count(addr, "SELECT COUNT(*) FROM log") == writers*commits
	})
	for i, w := range ws {
		eventually(t, 3*time.Minute, fmt.Sprintf("writer %d holds 150 commits", i), func() bool {
			return w.count(addr, "SELECT COUNT(*) FROM log") == writers*commits
		})
	}
	t.Logf("%d commits by %d writers in %d published versions", writers*commits, writers, ws[0].status(addr).Seq)
}

// TestEndToEndSameRowConflict: two writers change one row; the later write
// wins everywhere and both writers report the conflict.
func TestEndToEndSameRowConflict(t *testing.T) {
	ws, _, addr := writersNet(t, 2)
	a, b := ws[0], ws[1]
	a.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "INSERT INTO log VALUES(0, 0, 'orig')"}, nil)
	a.must("POST", apiDBPath(addr)+"/publish", nil, nil)
	eventually(t, 2*time.Minute, "b has the row", func() bool { return b.count(addr, "SELECT COUNT(*) FROM log") == 1 })
	// Both change it before either publishes; b's write is the later one.
	a.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "UPDATE log SET v = 'a' WHERE w = 0"}, nil)
	time.Sleep(20 * time.Millisecond)
	b.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "UPDATE log SET v = 'b' WHERE w = 0"}, nil)
	for i, w := range ws {
		eventually(t, 3*time.Minute, fmt.Sprintf("writer %d reports the conflict (%+v)", i, w.status(addr)), func() bool {
			return len(w.status(addr).LastConflicts) > 0
		})
		eventually(t, 3*time.Minute, fmt.Sprintf("writer %d holds b's value", i), func() bool {
			return w.count(addr, "SELECT COUNT(*) FROM log WHERE v = 'b'") == 1
		})
	}
}

// TestEndToEndOfflineWriter: a writer that neither polls nor publishes
// (cut off: its daemon polls hourly and publishes only when asked) makes 20
// commits while another publishes 20 versions; when it reconnects (its
// publish), it catches up, rebases, and all 40 are in everywhere.
func TestEndToEndOfflineWriter(t *testing.T) {
	ws, boot, addr := writersNet(t, 2, nil, []string{"--poll", "1h", "--debounce", "1h", "--debounce-max", "1h"})
	a, b := ws[0], ws[1]
	for i := range 20 {
		b.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "INSERT INTO log VALUES(1, ?, 'offline')", "args": []any{i}}, nil)
		a.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "INSERT INTO log VALUES(0, ?, 'online')", "args": []any{i}}, nil)
		a.must("POST", apiDBPath(addr)+"/publish", nil, nil)
	}
	if n := b.count(addr, "SELECT COUNT(*) FROM log"); n != 20 {
		t.Fatalf("the offline writer sees %d rows before reconnecting, want its own 20", n)
	}
	var rep struct {
		Seq      int64 `json:"seq"`
		Attempts int   `json:"attempts"`
		Pending  int   `json:"pending_writes"`
	}
	b.must("POST", apiDBPath(addr)+"/publish", nil, &rep)
	if rep.Pending != 0 || rep.Seq < 22 {
		t.Fatalf("the reconnecting publish: %+v, want seq >= 22 with nothing pending", rep)
	}
	if n := b.count(addr, "SELECT COUNT(*) FROM log"); n != 40 {
		t.Fatalf("the reconnected writer holds %d rows, want 40", n)
	}
	eventually(t, 3*time.Minute, "the other writer holds all 40", func() bool {
		return a.count(addr, "SELECT COUNT(*) FROM log") == 40
	})
	r := startServeProc(t, boot)
	r.must("POST", "/v1/follow", map[string]any{"db": addr}, nil)
	eventually(t, 3*time.Minute, "a reader holds all 40", func() bool {
		return r.count(addr, "SELECT COUNT(*) FROM log") == 40
	})
}

// TestEndToEndOfflineProcess: the offline writer's daemon is stopped and
// its 20 commits are made with `dhtdb exec` on its data directory (no
// network) while the other writer publishes 20 versions; restarted, the
// daemon catches up, rebases and publishes: all 40 are in everywhere.
func TestEndToEndOfflineProcess(t *testing.T) {
	ws, boot, addr := writersNet(t, 2)
	a, b := ws[0], ws[1]
	b.stop()
	for i := range 20 {
		run(t, "exec", "--data", b.dir, addr, "INSERT INTO log VALUES(1, ?, 'offline')", fmt.Sprint(i))
		a.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "INSERT INTO log VALUES(0, ?, 'online')", "args": []any{i}}, nil)
		a.must("POST", apiDBPath(addr)+"/publish", nil, nil)
	}
	b = startServeIn(t, b.dir, boot)
	eventually(t, 3*time.Minute, "the restarted writer published its offline writes", func() bool {
		return b.count(addr, "SELECT COUNT(*) FROM log") == 40 && b.status(addr).PendingWrites == 0
	})
	eventually(t, 3*time.Minute, "the other writer holds all 40", func() bool {
		return a.count(addr, "SELECT COUNT(*) FROM log") == 40
	})
}

// TestEndToEndRejectPolicy: with `serve --conflicts reject`, the write
// rebased onto the other one (whoever lost the race) is rejected, both
// writers report it, and both end with the same value, the winner's.
func TestEndToEndRejectPolicy(t *testing.T) {
	reject := []string{"--conflicts", "reject"}
	ws, _, addr := writersNet(t, 2, reject, reject)
	a, b := ws[0], ws[1]
	a.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "INSERT INTO log VALUES(0, 0, 'orig')"}, nil)
	a.must("POST", apiDBPath(addr)+"/publish", nil, nil)
	eventually(t, 2*time.Minute, "b has the row", func() bool { return b.count(addr, "SELECT COUNT(*) FROM log") == 1 })
	a.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "UPDATE log SET v = 'a' WHERE w = 0"}, nil)
	b.must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "UPDATE log SET v = 'b' WHERE w = 0"}, nil)
	for i, w := range ws {
		eventually(t, 3*time.Minute, fmt.Sprintf("writer %d reports the rejection (%+v)", i, w.status(addr)), func() bool {
			for _, c := range w.status(addr).LastConflicts {
				if strings.Contains(string(c), `"decision":"rejected"`) {
					return true
				}
			}
			return false
		})
	}
	eventually(t, 3*time.Minute, "both writers hold the same one value", func() bool {
		na, nb := a.count(addr, "SELECT COUNT(*) FROM log WHERE v = 'a'"), b.count(addr, "SELECT COUNT(*) FROM log WHERE v = 'a'")
		ma, mb := a.count(addr, "SELECT COUNT(*) FROM log WHERE v = 'b'"), b.count(addr, "SELECT COUNT(*) FROM log WHERE v = 'b'")
		return na == nb && ma == mb && na+ma == 1
	})
}
