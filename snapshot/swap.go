package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The steps of a swap, as named to the test hook.
const (
	stepCopied  = "copied"  // InstallCopy: the copy is written, not yet synced
	stepSync    = "sync"    // about to fsync the new file
	stepRename  = "rename"  // about to rename it over the live file
	stepSyncDir = "syncdir" // renamed, about to fsync the directory
	stepDone    = "done"    // all durable
)

// hook is called before each step; tests use it to stop a swap there.
type hook func(step string)

// Swap atomically replaces livePath with newPath: fsync the new file,
// rename it over the live one, fsync the directory. The two must be in the
// same directory (so the rename is atomic and one directory sync makes it
// durable). A crash before the rename leaves the previous live file as it
// was; after it, the new one. newPath should have passed Check: Swap does
// not look inside it (Install does both).
func Swap(newPath, livePath string) error {
	return swap(newPath, livePath, nil)
}

// Install checks newPath with Check and, only if it passes, swaps it in
// over livePath.
func Install(ctx context.Context, newPath, livePath string) error {
	if err := Check(ctx, newPath); err != nil {
		return err
	}
	return swap(newPath, livePath, nil)
}

// InstallCopy installs a copy of src (for example a version kept in a
// Store for seeding, which must stay where it is) as livePath: the copy is
// written to a temporary file beside livePath, checked, then swapped in.
func InstallCopy(ctx context.Context, src, livePath string) error {
	return installCopy(ctx, src, livePath, nil)
}

func installCopy(ctx context.Context, src, livePath string, h hook) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(livePath), TempPattern)
	if err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(out.Name())
		}
	}()
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot: install: copy: %w", err)
	}
	call(h, stepCopied)
	if err := Check(ctx, out.Name()); err != nil {
		return err
	}
	return swap(out.Name(), livePath, h)
}

func swap(newPath, livePath string, h hook) error {
	dir := filepath.Dir(livePath)
	newDir, err1 := filepath.Abs(filepath.Dir(newPath))
	liveDir, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil || newDir != liveDir {
		return fmt.Errorf("snapshot: swap: %s is not in the directory of %s", newPath, livePath)
	}
	call(h, stepSync)
	if err := syncFile(newPath); err != nil {
		return fmt.Errorf("snapshot: swap: %w", err)
	}
	call(h, stepRename)
	if err := os.Rename(newPath, livePath); err != nil {
		return fmt.Errorf("snapshot: swap: %w", err)
	}
	call(h, stepSyncDir)
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("snapshot: swap: %w", err)
	}
	call(h, stepDone)
	return nil
}

func call(h hook, step string) {
	if h != nil {
		h(step)
	}
}

// RemoveTemp removes the temporary files this package leaves in dir when
// a process dies mid-way (snapshots, assemblies, installs being written).
// Call it at start-up, before anything in this process creates new ones.
func RemoveTemp(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("snapshot: remove temp: %w", err)
	}
	prefix := strings.TrimSuffix(TempPattern, "*")
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("snapshot: remove temp: %w", err)
			}
		}
	}
	return nil
}
