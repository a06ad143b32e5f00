package journal

import (
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// ReservedPrefix starts the names of the tables dhtdb keeps inside every
// database; user statements may not create, change or write them.
const ReservedPrefix = "_dhtdb_"

// The reserved tables travel inside the database file, so every published
// version says which writes it contains (_dhtdb_changesets), who last wrote
// each row (_dhtdb_rows, for the later-wins rule) and which conflicts were
// decided while rebasing (_dhtdb_conflicts, so both writers learn of them).
// Timestamps are Unix nanoseconds of the writer's clock.
const reservedSchema = `
CREATE TABLE IF NOT EXISTS _dhtdb_changesets(writer BLOB NOT NULL, counter INTEGER NOT NULL,
  ts INTEGER NOT NULL, status TEXT NOT NULL, PRIMARY KEY(writer, counter)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _dhtdb_rows(tbl TEXT NOT NULL, pk BLOB NOT NULL, writer BLOB NOT NULL,
  counter INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY(tbl, pk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _dhtdb_conflicts(writer BLOB NOT NULL, counter INTEGER NOT NULL,
  n INTEGER NOT NULL, tbl TEXT NOT NULL, pk TEXT NOT NULL, kind TEXT NOT NULL, decision TEXT NOT NULL,
  our_ts INTEGER NOT NULL, their_writer BLOB, their_counter INTEGER, their_ts INTEGER,
  columns TEXT NOT NULL, PRIMARY KEY(writer, counter, n)) WITHOUT ROWID;
`

// Marker statuses in _dhtdb_changesets.
const (
	markApplied  = "applied"
	markRejected = "rejected"
)

func ensureReserved(c *sqlite.Conn) error {
	if err := sqlitex.ExecuteScript(c, reservedSchema, nil); err != nil {
		return fmt.Errorf("reserved tables: %w", err)
	}
	return nil
}

func hasReserved(c *sqlite.Conn) (bool, error) {
	n := 0
	err := sqlitex.Execute(c, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '_dhtdb_changesets'",
		&sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error { n = s.ColumnInt(0); return nil }})
	return n > 0, err
}

func isReserved(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), ReservedPrefix)
}

// stamp is who wrote a row last, and when.
type stamp struct {
	ID ID
	TS int64
}

func insertMarker(c *sqlite.Conn, id ID, ts int64, status string) error {
	return sqlitex.Execute(c, "INSERT INTO _dhtdb_changesets(writer, counter, ts, status) VALUES(?, ?, ?, ?)",
		&sqlitex.ExecOptions{Args: []any{id.Writer[:], id.Counter, ts, status}})
}

// markers returns the counters of writer's changesets c contains, with
// their status.
func markers(c *sqlite.Conn, w WriterID) (map[int64]string, error) {
	out := map[int64]string{}
	ok, err := hasReserved(c)
	if err != nil || !ok {
		return out, err
	}
	err = sqlitex.Execute(c, "SELECT counter, status FROM _dhtdb_changesets WHERE writer = ?", &sqlitex.ExecOptions{
		Args: []any{w[:]}, ResultFunc: func(s *sqlite.Stmt) error {
			out[s.ColumnInt64(0)] = s.ColumnText(1)
			return nil
		}})
	return out, err
}

func rowKey(table string, key []any) string { return table + "\x00" + string(encodeKey(key)) }

func getRowStamp(c *sqlite.Conn, table string, key []any) (stamp, bool, error) {
	var st stamp
	found := false
	err := sqlitex.Execute(c, "SELECT writer, counter, ts FROM _dhtdb_rows WHERE tbl = ? AND pk = ?", &sqlitex.ExecOptions{
		Args: []any{table, encodeKey(key)}, ResultFunc: func(s *sqlite.Stmt) error {
			copy(st.ID.Writer[:], columnBytes(s, 0))
			st.ID.Counter, st.TS, found = s.ColumnInt64(1), s.ColumnInt64(2), true
			return nil
		}})
	return st, found, err
}

func setRowStamp(c *sqlite.Conn, table string, key []any, st stamp) error {
	return sqlitex.Execute(c, "INSERT OR REPLACE INTO _dhtdb_rows(tbl, pk, writer, counter, ts) VALUES(?, ?, ?, ?, ?)",
		&sqlitex.ExecOptions{Args: []any{table, encodeKey(key), st.ID.Writer[:], st.ID.Counter, st.TS}})
}

// tableShape returns the primary-key flag of each column of table, in
// column order; nil when the table does not exist.
func tableShape(c *sqlite.Conn, table string) ([]bool, []string, error) {
	var pk []bool
	var names []string
	err := sqlitex.Execute(c, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", &sqlitex.ExecOptions{
		Args: []any{table}, ResultFunc: func(s *sqlite.Stmt) error {
			names = append(names, s.ColumnText(0))
			pk = append(pk, s.ColumnInt(1) > 0)
			return nil
		}})
	return pk, names, err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
