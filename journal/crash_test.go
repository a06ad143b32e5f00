package journal

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/snapshot"
)

const crashEnv = "DHTDB_JOURNAL_CRASH_DIR"

// TestCrashChild is the writer process of TestSIGKILL: it is run only when
// crashEnv names its directory. It repairs, then writes forever, printing
// "ack N" after each write returned, and now and then replaces its working
// copy with a rebased copy of itself (the catch-up path).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("the child process of TestSIGKILL")
	}
	ctx := context.Background()
	w := &writer{t: t, dir: dir, clk: clock.Real{}, seed: 1}
	w.openLive()
	w.openJournal()
	if _, err := w.j.Rebase(ctx, w.live); err != nil {
		t.Fatal(err)
	}
	if _, err := w.j.Exec(ctx, w.live, "CREATE TABLE IF NOT EXISTS log(i INTEGER PRIMARY KEY, pad BLOB)"); err != nil {
		t.Fatal(err)
	}
	var next int64
	err := sqlitex.Execute(w.live, "SELECT COALESCE(MAX(i), 0) + 1 FROM log", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { next = s.ColumnInt64(0); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := next; ; i++ {
		if _, err := w.j.Exec(ctx, w.live, "INSERT INTO log VALUES(?, randomblob(3000))", i); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "ack %d\n", i)
		out.Flush()
		if i%5 == 0 {
			if err := selfRebase(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// selfRebase is db's catch-up without a network: copy the working copy,
// rebase onto the copy, and restore the copy into live in one transaction.
func selfRebase(ctx context.Context, w *writer) error {
	tmp := filepath.Join(w.dir, "rebase.tmp")
	os.Remove(tmp)
	if err := snapshot.Create(ctx, w.livePath(), tmp); err != nil {
		return err
	}
	c, err := sqlite.OpenConn(tmp, sqlite.OpenReadWrite)
	if err != nil {
		return err
	}
	_, err = w.j.Rebase(ctx, c)
	c.Close()
	if err != nil {
		return err
	}
	src, err := sqlite.OpenConn(tmp, sqlite.OpenReadOnly)
	if err != nil {
		return err
	}
	defer src.Close()
	b, err := sqlite.NewBackup(w.live, "main", src, "main")
	if err != nil {
		return err
	}
	_, err = b.Step(-1)
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	return err
}

// TestSIGKILL kills a writer process with SIGKILL at random moments, 50
// times: after every restart each acknowledged write is in the working copy
// (after the repair) and both files pass quick_check.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 50 processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	acked := map[int64]bool{}
	repaired := 0
	for round := range 50 {
		cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		killAfter := 1 + rng.IntN(12)
		n := 0
		for lines.Scan() {
			if i, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
				v, err := strconv.ParseInt(i, 10, 64)
				if err != nil {
					t.Fatalf("child said %q", lines.Text())
				}
				acked[v] = true
				if n++; n == killAfter {
					time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond) // mid-write, often
					cmd.Process.Kill()
				}
			}
		}
		cmd.Wait()
		if n < killAfter {
			t.Fatalf("round %d: child ended after %d writes: %s", round, n, stderr.String())
		}
		repaired += checkAfterCrash(t, dir, acked)
	}
	t.Logf("50 SIGKILLs, %d acknowledged writes, none lost; %d writes repaired from the journal", len(acked), repaired)
}

func checkAfterCrash(t *testing.T, dir string, acked map[int64]bool) (repaired int) {
	t.Helper()
	for _, f := range []string{"live.sqlite", "journal.sqlite"} {
		c, err := sqlite.OpenConn(filepath.Join(dir, f), sqlite.OpenReadWrite)
		if err != nil {
			t.Fatal(err)
		}
		var res string
		err = sqlitex.Execute(c, "PRAGMA quick_check", &sqlitex.ExecOptions{
			ResultFunc: func(s *sqlite.Stmt) error { res += s.ColumnText(0); return nil }})
		c.Close()
		if err != nil || res != "ok" {
			t.Fatalf("%s: quick_check %q %v", f, res, err)
		}
	}
	w := &writer{t: t, dir: dir, clk: clock.Real{}, seed: 1}
	w.openLive()
	w.openJournal()
	defer w.close()
	rep, err := w.j.Rebase(context.Background(), w.live)
	if err != nil {
		t.Fatal(err)
	}
	have := map[int64]bool{}
	err = sqlitex.Execute(w.live, "SELECT i FROM log", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { have[s.ColumnInt64(0)] = true; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range acked {
		if !have[i] {
			t.Fatalf("acknowledged write %d lost", i)
		}
	}
	return len(rep.Applied)
}
