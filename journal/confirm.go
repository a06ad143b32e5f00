package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// ConfirmReport says what a published version told this writer.
type ConfirmReport struct {
	Published []ID `json:"published,omitempty"` // writes newly confirmed published (applied)
	Rejected  []ID `json:"rejected,omitempty"`  // writes newly confirmed rejected by the conflict rule
	// Conflicts recorded in the version that involve this writer (as the
	// rebased or as the base side), each reported once per journal.
	Conflicts []Conflict `json:"conflicts,omitempty"`
}

// Confirm reads the version at path — one known to be published at seq
// (our put won, or it was fetched through the pointer) — and marks this
// writer's writes it contains as published (or rejected), so Pending no
// longer lists them. It returns the conflicts recorded in the version that
// involve this writer and were not reported before.
func (j *Journal) Confirm(ctx context.Context, path string, seq int64) (ConfirmReport, error) {
	c, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		return ConfirmReport{}, fmt.Errorf("confirm: open %s: %w", path, err)
	}
	defer c.Close()
	c.SetInterrupt(ctx.Done())
	rep, err := j.confirm(c, seq)
	if err != nil {
		return ConfirmReport{}, fmt.Errorf("confirm %s: %w", path, err)
	}
	return rep, nil
}

func (j *Journal) confirm(c *sqlite.Conn, seq int64) (rep ConfirmReport, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn == nil {
		return rep, errClosed
	}
	if err := sqlitex.ExecuteTransient(c, "BEGIN", nil); err != nil {
		return rep, err
	}
	defer sqlitex.ExecuteTransient(c, "ROLLBACK", nil)
	marks, err := markers(c, j.writer)
	if err != nil {
		return rep, err
	}
	confs, err := readConflicts(c, j.writer)
	if err != nil {
		return rep, err
	}
	defer sqlitex.Save(j.conn)(&err)
	pending, err := j.entries(true, false)
	if err != nil {
		return rep, err
	}
	for _, e := range pending {
		status, ok := marks[e.ID.Counter]
		if !ok {
			continue
		}
		st := statePublished
		if status == markRejected {
			st = stateRejected
			rep.Rejected = append(rep.Rejected, e.ID)
		} else {
			rep.Published = append(rep.Published, e.ID)
		}
		if err := sqlitex.Execute(j.conn, "UPDATE entries SET state = ?, seq = ? WHERE counter = ?",
			&sqlitex.ExecOptions{Args: []any{st, seq, e.ID.Counter}}); err != nil {
			return rep, err
		}
	}
	for _, rc := range confs {
		var n int
		err := sqlitex.Execute(j.conn, "INSERT OR IGNORE INTO seen_conflicts(writer, counter, n) VALUES(?, ?, ?)",
			&sqlitex.ExecOptions{Args: []any{rc.id.Writer[:], rc.id.Counter, rc.n}})
		if err != nil {
			return rep, err
		}
		if n = j.conn.Changes(); n > 0 {
			rep.Conflicts = append(rep.Conflicts, rc.c)
		}
	}
	return rep, nil
}

func insertConflict(c *sqlite.Conn, id ID, n int, cf Conflict) error {
	key, err := json.Marshal(cf.Key)
	if err != nil {
		return err
	}
	cols, err := json.Marshal(cf.Columns)
	if err != nil {
		return err
	}
	var tw []byte
	var tc, tt any
	if cf.Theirs != (ID{}) {
		tw, tc, tt = cf.Theirs.Writer[:], cf.Theirs.Counter, cf.TheirsTime.UnixNano()
	}
	return sqlitex.Execute(c, `INSERT INTO _dhtdb_conflicts(writer, counter, n, tbl, pk, kind, decision, our_ts,
		their_writer, their_counter, their_ts, columns) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		&sqlitex.ExecOptions{Args: []any{id.Writer[:], id.Counter, n, cf.Table, string(key), cf.Kind, cf.Decision,
			cf.OursTime.UnixNano(), tw, tc, tt, string(cols)}})
}

type recordedConflict struct {
	id ID
	n  int64
	c  Conflict
}

// readConflicts returns the conflicts recorded in c that involve w.
func readConflicts(c *sqlite.Conn, w WriterID) ([]recordedConflict, error) {
	if ok, err := hasReserved(c); err != nil || !ok {
		return nil, err
	}
	var out []recordedConflict
	err := sqlitex.Execute(c, `SELECT writer, counter, n, tbl, pk, kind, decision, our_ts, their_writer,
		their_counter, their_ts, columns FROM _dhtdb_conflicts WHERE writer = ? OR their_writer = ?
		ORDER BY writer, counter, n`, &sqlitex.ExecOptions{Args: []any{w[:], w[:]},
		ResultFunc: func(s *sqlite.Stmt) error {
			var rc recordedConflict
			copy(rc.id.Writer[:], columnBytes(s, 0))
			rc.id.Counter, rc.n = s.ColumnInt64(1), s.ColumnInt64(2)
			cf := Conflict{Table: s.ColumnText(3), Kind: s.ColumnText(5), Decision: s.ColumnText(6),
				Ours: rc.id, OursTime: time.Unix(0, s.ColumnInt64(7)).UTC()}
			dec := json.NewDecoder(bytes.NewReader([]byte(s.ColumnText(4))))
			dec.UseNumber()
			if err := dec.Decode(&cf.Key); err != nil {
				return fmt.Errorf("conflict key: %w", err)
			}
			for i, v := range cf.Key {
				if n, ok := v.(json.Number); ok {
					if iv, err := n.Int64(); err == nil {
						cf.Key[i] = iv
					} else if fv, err := n.Float64(); err == nil {
						cf.Key[i] = fv
					}
				}
			}
			if err := json.Unmarshal([]byte(s.ColumnText(11)), &cf.Columns); err != nil {
				return fmt.Errorf("conflict columns: %w", err)
			}
			if s.ColumnType(8) != sqlite.TypeNull {
				copy(cf.Theirs.Writer[:], columnBytes(s, 8))
				cf.Theirs.Counter = s.ColumnInt64(9)
				cf.TheirsTime = time.Unix(0, s.ColumnInt64(10)).UTC()
			}
			rc.c = cf
			out = append(out, rc)
			return nil
		}})
	return out, err
}
