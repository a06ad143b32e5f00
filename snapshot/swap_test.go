package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"
)

// Environment of the crash helper process.
const (
	envCrashStep = "DHTDB_SNAPSHOT_CRASH_STEP"
	envCrashNew  = "DHTDB_SNAPSHOT_CRASH_NEW"
	envCrashLive = "DHTDB_SNAPSHOT_CRASH_LIVE"
	crashCode    = 37
)

// TestCrashHelper is not a test: run as a child process by
// TestSwapCrash, it installs a file and dies (os.Exit: no deferred
// clean-up, no further syscalls) when the swap reaches the given step.
func TestCrashHelper(t *testing.T) {
	step := os.Getenv(envCrashStep)
	if step == "" {
		t.Skip("helper process for TestSwapCrash")
	}
	die := func(s string) {
		if s == step {
			os.Exit(crashCode)
		}
	}
	if err := installCopy(context.Background(), os.Getenv(envCrashNew), os.Getenv(envCrashLive), die); err != nil {
		t.Fatal(err)
	}
}

// TestSwapCrash kills a process at every step of an install and checks
// that the live file is then exactly the old or the new version, opens
// and passes quick_check. (A process crash, not a power cut: the page
// cache survives. The fsyncs are what covers a power cut.)
func TestSwapCrash(t *testing.T) {
	dir := t.TempDir()
	src := makeDB(t, dir, false, 500, 200)
	v1 := filepath.Join(dir, "v1.snap")
	if err := Create(context.Background(), src, v1); err != nil {
		t.Fatal(err)
	}
	c := openDB(t, src, false)
	exec(t, c, "UPDATE t SET body = 'v2' WHERE id < 100")
	c.Close()
	v2 := filepath.Join(dir, "v2.snap")
	if err := Create(context.Background(), src, v2); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(v1)
	new, _ := os.ReadFile(v2)

	for _, tc := range []struct {
		step    string
		wantNew bool
	}{
		{stepCopied, false}, {stepSync, false}, {stepRename, false},
		{stepSyncDir, true}, {stepDone, true},
	} {
		t.Run(tc.step, func(t *testing.T) {
			liveDir := t.TempDir()
			live := filepath.Join(liveDir, "live.db")
			if err := os.WriteFile(live, old, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := osexec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
			cmd.Env = append(os.Environ(), envCrashStep+"="+tc.step, envCrashNew+"="+v2, envCrashLive+"="+live)
			out, err := cmd.CombinedOutput()
			var ee *osexec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != crashCode {
				t.Fatalf("helper did not crash at %s: %v\n%s", tc.step, err, out)
			}
			if err := Check(context.Background(), live); err != nil {
				t.Fatalf("live file after a crash at %s: %v", tc.step, err)
			}
			got, _ := os.ReadFile(live)
			if want := map[bool][]byte{false: old, true: new}[tc.wantNew]; !bytes.Equal(got, want) {
				t.Fatalf("crash at %s: live is not the %v version", tc.step, map[bool]string{false: "old", true: "new"}[tc.wantNew])
			}
			r := openReadOnly(t, live)
			if n := queryInt(t, r, "SELECT count(*) FROM t"); n != 500 {
				t.Fatalf("%d rows", n)
			}
			r.Close()
			// What the crash left: at most one temporary file, which
			// RemoveTemp clears.
			if err := RemoveTemp(liveDir); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(liveDir); len(ents) != 1 {
				t.Fatalf("after RemoveTemp: %v", ents)
			}
		})
	}
}

// TestInstallWithOpenReader: a reader connection open on the live file
// keeps reading the version it opened; a new connection sees the new one.
func TestInstallWithOpenReader(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := makeDB(t, dir, true, 100, 100)
	v1 := filepath.Join(dir, "v1.snap")
	if err := Create(ctx, src, v1); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "live.db")
	if err := InstallCopy(ctx, v1, live); err != nil {
		t.Fatal(err)
	}
	old := openReadOnly(t, live)
	if n := queryInt(t, old, "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("%d rows", n)
	}
	c := openDB(t, src, true)
	exec(t, c, "DELETE FROM t WHERE id >= 50")
	v2 := filepath.Join(dir, "v2.snap")
	if err := Create(ctx, src, v2); err != nil {
		t.Fatal(err)
	}
	if err := InstallCopy(ctx, v2, live); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, old, "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("open reader sees %d rows, want the old version's 100", n)
	}
	if n := queryInt(t, openReadOnly(t, live), "SELECT count(*) FROM t"); n != 50 {
		t.Fatalf("new reader sees %d rows, want 50", n)
	}
}

// TestInstallRefusesBadFile: a file that fails Check never replaces the
// live copy.
func TestInstallRefusesBadFile(t *testing.T) {
	dir := t.TempDir()
	good, b := goodSnapshot(t, dir)
	live := filepath.Join(dir, "live.db")
	if err := InstallCopy(context.Background(), good, live); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.db")
	os.WriteFile(bad, b[:len(b)-4096], 0o644)
	if err := Install(context.Background(), bad, live); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	os.WriteFile(bad, []byte("not sqlite"), 0o644)
	if err := InstallCopy(context.Background(), bad, live); !errors.Is(err, ErrNotSQLite) {
		t.Fatalf("not sqlite: %v", err)
	}
	if got, _ := os.ReadFile(live); !bytes.Equal(got, b) {
		t.Fatal("live copy changed")
	}
	if err := Swap(filepath.Join(t.TempDir(), "x"), live); err == nil {
		t.Fatal("swap across directories accepted")
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, ".dhtdb-tmp-*")); len(ents) != 0 {
		t.Fatalf("temporary files left: %v", ents)
	}
}
