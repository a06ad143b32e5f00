package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/dhtdb/dhtdb/internal/sqlarg"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// ExecResult reports what a write did.
type ExecResult struct {
	Changes      int    `json:"changes"`        // rows changed by all statements
	LastInsertID int64  `json:"last_insert_id"` // rowid of the last insert
	ID           string `json:"id,omitempty"`   // the journal entry (writer/counter), with Config.Journal
}

// Rows is the result of a query, ready for encoding/json: each value is
// nil, int64, float64, string or []byte.
type Rows struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// openWriter opens the owner's working copy for writing: WAL, and
// synchronous=FULL so that a committed transaction survives a power loss.
func openWriter(path string) (*sqlite.Conn, error) {
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := pragmas(c, "journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// pragmas sets each PRAGMA outside any transaction.
func pragmas(c *sqlite.Conn, list ...string) error {
	for _, p := range list {
		if err := sqlitex.ExecuteTransient(c, "PRAGMA "+p, nil); err != nil {
			return fmt.Errorf("pragma %s: %w", p, err)
		}
	}
	return nil
}

// Exec runs sql (one or more statements; args are bound in order) on the
// owner's working copy in one transaction. It returns once the transaction is
// committed and durable on disk; on error nothing is changed.
func (d *DB) Exec(ctx context.Context, sql string, args ...any) (res ExecResult, err error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	c, err := d.writer()
	if err != nil {
		return ExecResult{}, err
	}
	if d.j != nil {
		r, err := d.j.Exec(ctx, c, sql, args...)
		if err != nil {
			return ExecResult{}, fmt.Errorf("exec on %s: %w", d.addr.Name, err)
		}
		res := ExecResult{Changes: r.Changes, LastInsertID: r.LastInsertID}
		if r.Recorded {
			res.ID = r.ID.String()
		}
		return res, nil
	}
	defer c.SetInterrupt(c.SetInterrupt(ctx.Done()))
	release := sqlitex.Save(c)
	defer release(&err)
	err = forEachStatement(c, sql, args, func(stmt *sqlite.Stmt) error {
		for {
			row, err := stmt.Step()
			if err != nil {
				return err
			}
			if !row {
				break
			}
		}
		res.Changes += c.Changes()
		return nil
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec on %s: %w", d.addr.Name, err)
	}
	res.LastInsertID = c.LastInsertRowID()
	return res, nil
}

// Query runs one read-only statement on the local copy and returns every row.
// Statements that would write are refused by SQLite (query_only).
func (d *DB) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	if _, err := os.Stat(d.LivePath()); errors.Is(err, fs.ErrNotExist) {
		return Rows{}, fmt.Errorf("query %s: %w", d.addr.Name, ErrNoVersion)
	}
	c, err := sqlite.OpenConn(d.LivePath(), sqlite.OpenReadWrite)
	if err != nil {
		return Rows{}, fmt.Errorf("query %s: open: %w", d.addr.Name, err)
	}
	defer c.Close()
	c.SetInterrupt(ctx.Done())
	if err := pragmas(c, "query_only=1", "busy_timeout=10000"); err != nil {
		return Rows{}, fmt.Errorf("query %s: %w", d.addr.Name, err)
	}
	var out Rows
	n := 0
	err = forEachStatement(c, sql, args, func(stmt *sqlite.Stmt) error {
		if n++; n > 1 {
			return errors.New("query holds more than one statement")
		}
		for i := range stmt.ColumnCount() {
			out.Columns = append(out.Columns, stmt.ColumnName(i))
		}
		out.Rows = [][]any{}
		for {
			row, err := stmt.Step()
			if err != nil {
				return err
			}
			if !row {
				return nil
			}
			vals := make([]any, stmt.ColumnCount())
			for i := range vals {
				vals[i] = columnValue(stmt, i)
			}
			out.Rows = append(out.Rows, vals)
		}
	})
	if err != nil {
		return Rows{}, fmt.Errorf("query %s: %w", d.addr.Name, err)
	}
	return out, nil
}

func columnValue(stmt *sqlite.Stmt, i int) any {
	switch stmt.ColumnType(i) {
	case sqlite.TypeInteger:
		return stmt.ColumnInt64(i)
	case sqlite.TypeFloat:
		return stmt.ColumnFloat(i)
	case sqlite.TypeText:
		return stmt.ColumnText(i)
	case sqlite.TypeBlob:
		b := make([]byte, stmt.ColumnLen(i))
		stmt.ColumnBytes(i, b)
		return b
	}
	return nil
}

// forEachStatement prepares each statement of sql in turn, binds the next
// args to its parameters, and calls f with it.
func forEachStatement(c *sqlite.Conn, sql string, args []any, f func(*sqlite.Stmt) error) error {
	rest := strings.TrimSpace(sql)
	if rest == "" {
		return errors.New("empty statement")
	}
	for rest != "" {
		stmt, trailing, err := c.PrepareTransient(rest)
		if err != nil {
			return err
		}
		rest = strings.TrimSpace(rest[len(rest)-trailing:])
		if stmt == nil { // only a comment or ';'
			continue
		}
		err = sqlarg.Bind(stmt, &args)
		if err == nil {
			err = f(stmt)
		}
		if ferr := stmt.Finalize(); err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
	}
	if len(args) > 0 {
		return fmt.Errorf("%d arguments left over", len(args))
	}
	return nil
}
