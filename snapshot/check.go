package snapshot

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Errors of Check.
var (
	// ErrNotSQLite: the file does not start with the SQLite header.
	ErrNotSQLite = errors.New("snapshot: not a SQLite database")
	// ErrCorrupt: the file claims to be SQLite but its header, size or
	// content fails the checks (including PRAGMA quick_check).
	ErrCorrupt = errors.New("snapshot: database is corrupt")
)

// sqliteMagic is the first 16 bytes of every SQLite 3 database file.
const sqliteMagic = "SQLite format 3\x00"

// headerSize is the size of the SQLite database header.
const headerSize = 100

// maxCheckErrors is how many quick_check messages an error carries.
const maxCheckErrors = 3

// Check tells whether the file at path is a complete SQLite database a
// reader can open read-only: it checks the header (magic, page size,
// rollback-journal mode, size against the file length), then opens the
// file read-only and runs PRAGMA quick_check. It returns nil, or an error
// wrapping ErrNotSQLite or ErrCorrupt (or the I/O error).
//
// The file is opened with immutable=1: no lock is taken and no journal
// is looked for, so Check never modifies the file, whoever else has it.
func Check(ctx context.Context, path string) error {
	if err := checkHeader(path); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("snapshot: check: %w", err)
	}
	uri := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&immutable=1"}).String()
	conn, err := sqlite.OpenConn(uri, sqlite.OpenReadOnly|sqlite.OpenURI)
	if err != nil {
		return fmt.Errorf("%w: open: %w", ErrCorrupt, err)
	}
	defer conn.Close()
	conn.SetInterrupt(ctx.Done())
	var msgs []string
	err = sqlitex.ExecuteTransient(conn, "PRAGMA quick_check", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			// One row may hold many problems, one per line.
			for _, line := range strings.Split(stmt.ColumnText(0), "\n") {
				if line != "" && len(msgs) < maxCheckErrors {
					msgs = append(msgs, line)
				}
			}
			return nil
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("snapshot: check: %w", ctx.Err())
		}
		return fmt.Errorf("%w: quick_check: %w", ErrCorrupt, err)
	}
	if len(msgs) == 0 || msgs[0] != "ok" {
		return fmt.Errorf("%w: quick_check: %s", ErrCorrupt, strings.Join(msgs, "; "))
	}
	return nil
}

// checkHeader validates the 100-byte database header against the file.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot: check: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("snapshot: check: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrNotSQLite)
	}
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %d bytes, shorter than the header", ErrNotSQLite, st.Size())
		}
		return fmt.Errorf("snapshot: check: %w", err)
	}
	if string(h[:16]) != sqliteMagic {
		return fmt.Errorf("%w: bad magic %q", ErrNotSQLite, h[:16])
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrCorrupt, pageSize)
	}
	if h[18] != 1 || h[19] != 1 {
		return fmt.Errorf("%w: file format %d/%d, want 1/1 (rollback journal, not WAL)", ErrCorrupt, h[18], h[19])
	}
	size := st.Size()
	if size%pageSize != 0 {
		return fmt.Errorf("%w: %d bytes is not a whole number of %d-byte pages", ErrCorrupt, size, pageSize)
	}
	// The in-header page count is valid when the change counter equals
	// version-valid-for (SQLite 3.7.0+ always writes both).
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if pages != 0 && binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96]) && pages*pageSize != size {
		return fmt.Errorf("%w: header says %d pages, file has %d", ErrCorrupt, pages, size/pageSize)
	}
	return nil
}
