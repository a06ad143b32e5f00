package snapshot

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// openDB opens (creating) a test database; wal selects the journal mode.
func openDB(t testing.TB, path string, wal bool) *sqlite.Conn {
	t.Helper()
	flags := sqlite.OpenReadWrite | sqlite.OpenCreate | sqlite.OpenURI
	if wal {
		flags |= sqlite.OpenWAL
	}
	c, err := sqlite.OpenConn(path, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exec(t testing.TB, c *sqlite.Conn, query string, args ...any) {
	t.Helper()
	if err := sqlitex.Execute(c, query, &sqlitex.ExecOptions{Args: args}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func queryInt(t testing.TB, c *sqlite.Conn, query string) int64 {
	t.Helper()
	var v int64
	err := sqlitex.Execute(c, query, &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { v = s.ColumnInt64(0); return nil },
	})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// makeDB creates a database with rows rows of ~rowBytes each in table t.
func makeDB(t testing.TB, dir string, wal bool, rows, rowBytes int) string {
	t.Helper()
	path := filepath.Join(dir, "src.db")
	c := openDB(t, path, wal)
	exec(t, c, "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
	exec(t, c, "BEGIN")
	for i := 0; i < rows; i++ {
		exec(t, c, "INSERT INTO t (id, body) VALUES (?, ?)", i, rowBody(i, 0, rowBytes))
	}
	exec(t, c, "COMMIT")
	return path
}

// rowBody is deterministic filler for row i at revision rev.
func rowBody(i, rev, n int) string {
	s := fmt.Sprintf("row %d rev %d ", i, rev)
	return s + strings.Repeat(string(rune('a'+(i+rev)%26)), max(0, n-len(s)))
}

func sqlitexExecute(c *sqlite.Conn, q string, args ...any) error {
	return sqlitex.Execute(c, q, &sqlitex.ExecOptions{Args: args})
}

// openReadOnly opens a snapshot the way a reader does.
func openReadOnly(t testing.TB, path string) *sqlite.Conn {
	t.Helper()
	c, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
