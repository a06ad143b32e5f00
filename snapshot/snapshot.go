package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// backupStepPages is how many pages one Backup.Step copies before the
// context is checked again. The read transaction stays open across steps,
// so the number only bounds the latency of a cancellation.
const backupStepPages = 1024

// Create writes a snapshot of the SQLite database at srcPath to dstPath.
//
// The source may be in WAL or rollback-journal mode and may be written to
// by other connections and processes while Create runs: the copy is made
// inside one read transaction on the source, so it is the database as of
// one commit. The result is the source's own page image (the online
// backup API copies pages, it does not renumber them the way VACUUM INTO
// does), switched to rollback-journal mode (header bytes 18/19 = 1), so a
// reader opens it read-only without a WAL.
//
// dstPath is replaced atomically: the snapshot is written to a temporary
// file in the same directory, synced and renamed. An existing file at
// dstPath is never left half-written.
func Create(ctx context.Context, srcPath, dstPath string) error {
	// No OpenCreate: a missing source is an error, not a new empty
	// database. No OpenWAL: the source keeps the journal mode it has.
	src, err := sqlite.OpenConn(srcPath, sqlite.OpenReadWrite|sqlite.OpenURI)
	if err != nil {
		return fmt.Errorf("snapshot: open source: %w", err)
	}
	defer src.Close()
	return CreateFromConn(ctx, src, dstPath)
}

// CreateFromConn is Create with a connection the caller already holds
// (for example the writer's own). The connection must not be inside a
// transaction (Create opens its own read transaction on it) and must not
// be used concurrently while CreateFromConn runs (a sqlite.Conn is not
// safe for concurrent use).
func CreateFromConn(ctx context.Context, src *sqlite.Conn, dstPath string) (err error) {
	dir := filepath.Dir(dstPath)
	tmp, err := os.CreateTemp(dir, TempPattern)
	if err != nil {
		return fmt.Errorf("snapshot: create temp: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			removeSQLiteFiles(tmpPath)
		}
	}()
	if err := backupTo(ctx, src, tmpPath); err != nil {
		return err
	}
	if err := syncFile(tmpPath); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Rename(tmpPath, dstPath); err != nil {
		return fmt.Errorf("snapshot: rename: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// backupTo copies src into the empty file at dstPath and leaves it in
// rollback-journal mode.
func backupTo(ctx context.Context, src *sqlite.Conn, dstPath string) (err error) {
	old := src.SetInterrupt(ctx.Done())
	defer src.SetInterrupt(old)

	dst, err := sqlite.OpenConn(dstPath, sqlite.OpenReadWrite)
	if err != nil {
		return fmt.Errorf("snapshot: open destination: %w", err)
	}
	defer func() {
		if cerr := dst.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("snapshot: close destination: %w", cerr)
		}
	}()
	dst.SetInterrupt(ctx.Done())

	// One read transaction on the source for the whole copy: the backup
	// reuses an open read transaction instead of taking (and dropping) one
	// per step, so writers on other connections can neither make the copy
	// restart nor make it inconsistent. In WAL mode they keep committing
	// meanwhile; in rollback mode they wait for the copy (or get
	// SQLITE_BUSY, depending on their busy handler): about 0.3 s per
	// 100 MB here.
	if err := sqlitex.ExecuteTransient(src, "BEGIN", nil); err != nil {
		return fmt.Errorf("snapshot: begin: %w", err)
	}
	defer func() {
		// Without the interrupt, or a cancelled context would leave the
		// caller's connection inside this transaction.
		src.SetInterrupt(nil)
		if rerr := sqlitex.ExecuteTransient(src, "ROLLBACK", nil); rerr != nil && err == nil {
			err = fmt.Errorf("snapshot: end read: %w", rerr)
		}
	}()
	// BEGIN is deferred: the first read takes the shared lock / WAL snapshot.
	if err := sqlitex.ExecuteTransient(src, "SELECT count(*) FROM sqlite_schema", nil); err != nil {
		return fmt.Errorf("snapshot: start read: %w", err)
	}

	b, err := sqlite.NewBackup(dst, "main", src, "main")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	err = copyPages(ctx, b)
	b.Close() // exactly once: a second sqlite3_backup_finish is a use after free
	if err != nil {
		return err
	}

	// The backup copies page 1 verbatim, header bytes 18/19 included: a
	// WAL source yields a file that claims WAL mode. Switch it back with
	// SQLite's own pragma (it checkpoints, removes the -wal and -shm files
	// and writes 1 into bytes 18/19).
	var mode string
	err = sqlitex.ExecuteTransient(dst, "PRAGMA journal_mode=DELETE", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { mode = stmt.ColumnText(0); return nil },
	})
	if err != nil {
		return fmt.Errorf("snapshot: set journal mode: %w", err)
	}
	if mode != "delete" {
		return fmt.Errorf("snapshot: journal mode is %q, not delete", mode)
	}
	return nil
}

// copyPages steps the backup to the end.
func copyPages(ctx context.Context, b *sqlite.Backup) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		more, err := b.Step(backupStepPages)
		if !more && err == nil {
			return nil
		}
		if err != nil && !more {
			return fmt.Errorf("snapshot: copy: %w", err)
		}
		// more with an error is SQLITE_BUSY/LOCKED on the destination,
		// which nobody else opens; the busy handler already waited, so
		// retrying is all there is to do (the context bounds it).
	}
}

// removeSQLiteFiles removes a database file and the journal files SQLite
// may have left beside it.
func removeSQLiteFiles(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		_ = os.Remove(path + suffix) // best effort: missing files are expected
	}
}
