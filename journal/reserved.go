package journal

import (
	"encoding/binary"
	"errors"
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
  counter INTEGER NOT NULL, ts INTEGER NOT NULL, cols BLOB NOT NULL, PRIMARY KEY(tbl, pk)) WITHOUT ROWID;
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

// rowStamps is who last wrote a row (row: any column, or its deletion)
// and each of its columns.
type rowStamps struct {
	row  stamp
	cols []stamp
	born stamp // the insert that made the row as it is (zero: unknown)
	dead stamp // the last delete of the key (zero: none known)
}

// col is the stamp of column i (zero when unknown).
func (rs rowStamps) col(i int) stamp {
	if i < len(rs.cols) {
		return rs.cols[i]
	}
	return stamp{}
}

// set records st as the last write of column i and of the row.
func (rs *rowStamps) set(i int, st stamp) {
	for len(rs.cols) <= i {
		rs.cols = append(rs.cols, stamp{})
	}
	rs.cols[i] = st
	rs.touch(st)
}

// touch records st as the row's last write if it is later.
func (rs *rowStamps) touch(st stamp) {
	if later(st.TS, st.ID, rs.row.TS, rs.row.ID) {
		rs.row = st
	}
}

func encodeStamps(cols []stamp) []byte {
	b := make([]byte, 0, 24*len(cols))
	for _, st := range cols {
		b = append(b, st.ID.Writer[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(st.ID.Counter))
		b = binary.BigEndian.AppendUint64(b, uint64(st.TS))
	}
	return b
}

func decodeStamps(b []byte) []stamp {
	var out []stamp
	for ; len(b) >= 24; b = b[24:] {
		var st stamp
		copy(st.ID.Writer[:], b)
		st.ID.Counter = int64(binary.BigEndian.Uint64(b[8:]))
		st.TS = int64(binary.BigEndian.Uint64(b[16:]))
		out = append(out, st)
	}
	return out
}

// appendRowStamps encodes rs: the row's stamp, its birth stamp, the number
// of columns, the column stamps.
func appendRowStamps(b []byte, rs rowStamps) []byte {
	b = append(b, encodeStamps([]stamp{rs.row, rs.born, rs.dead})...)
	b = binary.AppendUvarint(b, uint64(len(rs.cols)))
	return append(b, encodeStamps(rs.cols)...)
}

// parseRowStamps decodes what appendRowStamps wrote, n rows (withBorn
// false: the older form, without birth stamps).
func parseRowStamps(b []byte, n int, withBorn bool) ([]rowStamps, error) {
	out := make([]rowStamps, 0, n)
	for range n {
		if len(b) < 24 {
			return nil, errors.New("journal: short row stamps")
		}
		rs := rowStamps{row: decodeStamps(b[:24])[0]}
		if withBorn {
			b = b[24:]
			if len(b) < 48 {
				return nil, errors.New("journal: short row stamps")
			}
			rs.born, rs.dead = decodeStamps(b[:24])[0], decodeStamps(b[24:48])[0]
			b = b[24:]
		}
		nc, w := binary.Uvarint(b[24:])
		if w <= 0 || nc > uint64(len(b)) || uint64(len(b)-24-w) < 24*nc {
			return nil, errors.New("journal: bad row stamps")
		}
		b = b[24+w:]
		rs.cols = decodeStamps(b[:24*nc])
		b = b[24*nc:]
		out = append(out, rs)
	}
	return out, nil
}

func getRowStamps(c *sqlite.Conn, table string, key []any) (rowStamps, bool, error) {
	var rs rowStamps
	found := false
	err := sqlitex.Execute(c, "SELECT writer, counter, ts, cols FROM _dhtdb_rows WHERE tbl = ? AND pk = ?", &sqlitex.ExecOptions{
		Args: []any{table, encodeKey(key)}, ResultFunc: func(s *sqlite.Stmt) error {
			copy(rs.row.ID.Writer[:], columnBytes(s, 0))
			rs.row.ID.Counter, rs.row.TS, found = s.ColumnInt64(1), s.ColumnInt64(2), true
			rs.cols, rs.born, rs.dead = decodeColsBlob(columnBytes(s, 3))
			return nil
		}})
	return rs, found, err
}

func setRowStamps(c *sqlite.Conn, table string, key []any, rs rowStamps) error {
	return sqlitex.Execute(c, "INSERT OR REPLACE INTO _dhtdb_rows(tbl, pk, writer, counter, ts, cols) VALUES(?, ?, ?, ?, ?, ?)",
		&sqlitex.ExecOptions{Args: []any{table, encodeKey(key), rs.row.ID.Writer[:], rs.row.ID.Counter, rs.row.TS,
			encodeColsBlob(rs)}})
}

// The cols column holds the birth and death stamps too: a tag byte, the
// two stamps, then the column stamps (a blob of whole 24-byte stamps has
// neither).
const bornTag = 0xb1

func encodeColsBlob(rs rowStamps) []byte {
	return append(append([]byte{bornTag}, encodeStamps([]stamp{rs.born, rs.dead})...), encodeStamps(rs.cols)...)
}

func decodeColsBlob(b []byte) (cols []stamp, born, dead stamp) {
	if len(b)%24 == 1 && len(b) >= 49 && b[0] == bornTag {
		return decodeStamps(b[49:]), decodeStamps(b[1:25])[0], decodeStamps(b[25:49])[0]
	}
	return decodeStamps(b), stamp{}, stamp{}
}

// stampChange records the change ch, made by st, in rs: every column of an
// insert, the changed columns of an update, the row of a delete.
func stampChange(rs *rowStamps, ch *change, st stamp) {
	switch ch.Op {
	case opInsert:
		rs.cols, rs.born = nil, st
		for i := range ch.New {
			rs.set(i, st)
		}
	case opUpdate:
		for i := range ch.New {
			if ch.New[i].Defined {
				rs.set(i, st)
			}
		}
	case opDelete:
		rs.dead = st
	}
	rs.row = st
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
