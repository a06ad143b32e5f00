package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dhtdb/dhtdb/internal/sqlarg"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Errors of Exec, for callers to branch on.
var (
	// ErrNoPrimaryKey: the write changes a table without a PRIMARY KEY. The
	// session extension cannot track such a table, so its changes could not
	// be rebased onto another writer's version: the write is refused.
	ErrNoPrimaryKey = errors.New("journal: table has no PRIMARY KEY")
	// ErrReserved: the statement touches a table named _dhtdb_*.
	ErrReserved = errors.New("journal: _dhtdb_ tables are reserved")
	// ErrUnsupported: a statement a journaled write cannot carry (PRAGMA,
	// ATTACH, transaction control, temporary objects, schema statements
	// with parameters).
	ErrUnsupported = errors.New("journal: statement not supported in a journaled write")
)

// Result reports what Exec did.
type Result struct {
	Changes      int   // rows changed by all statements
	LastInsertID int64 // rowid of the last insert
	// Recorded is false when the statements changed nothing (no entry).
	Recorded bool
	ID       ID // the entry's id when Recorded
}

// Exec runs sql (one or more statements; args are bound in order) on live,
// the writer's connection to its working copy, in one transaction, and
// records it as a journal entry. live must not be inside a transaction.
//
// The write rule (what makes an acknowledged write never lost):
//  1. the statements run inside BEGIN IMMEDIATE on live, a session
//     recording their row changes; schema statements are kept as SQL text;
//  2. still inside that transaction, the entry's marker (writer, counter)
//     goes into live's _dhtdb_changesets and each changed row's stamp into
//     _dhtdb_rows;
//  3. the entry is appended to the journal file and committed there
//     (synchronous=FULL) — from here on the write is durable;
//  4. live commits (synchronous=FULL in the caller's connection).
//
// A crash between 3 and 4 leaves an entry whose marker live lacks; Repair at
// the next start applies it to live. A crash before 3 leaves neither (the
// write was not acknowledged). Exec returns only after 4.
func (j *Journal) Exec(ctx context.Context, live *sqlite.Conn, sql string, args ...any) (res Result, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn == nil {
		return Result{}, errClosed
	}
	defer live.SetInterrupt(live.SetInterrupt(ctx.Done()))
	if err := sqlitex.ExecuteTransient(live, "BEGIN IMMEDIATE", nil); err != nil {
		return Result{}, fmt.Errorf("journal exec: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			sqlitex.ExecuteTransient(live, "ROLLBACK", nil)
		}
	}()
	if err := ensureReserved(live); err != nil {
		return Result{}, fmt.Errorf("journal exec: %w", err)
	}
	steps, res, err := j.run(live, sql, args)
	if err != nil {
		return Result{}, fmt.Errorf("journal exec: %w", err)
	}
	if len(steps) == 0 {
		if err := sqlitex.ExecuteTransient(live, "COMMIT", nil); err != nil {
			return Result{}, fmt.Errorf("journal exec: commit: %w", err)
		}
		committed = true
		return res, nil
	}
	e := Entry{ID: ID{j.writer, j.next}, Time: j.cfg.Clock.Now()}
	e.steps = steps
	if e.steps, err = markWrite(live, e); err != nil {
		return Result{}, fmt.Errorf("journal exec: %w", err)
	}
	if err := j.append(e); err != nil {
		return Result{}, fmt.Errorf("journal exec: %w", err)
	}
	j.next++
	if j.crashAfterAppend != nil {
		if err := j.crashAfterAppend(); err != nil {
			return Result{}, err // simulated crash: the journal keeps the entry
		}
	}
	live.SetInterrupt(nil) // recorded: a cancellation no longer stops the commit
	if err := sqlitex.ExecuteTransient(live, "COMMIT", nil); err != nil {
		if rerr := j.remove(e.ID.Counter); rerr != nil {
			j.cfg.Logger.Error("journal: entry of a failed commit kept; Repair will apply it",
				"id", e.ID.String(), "err", rerr)
		}
		return Result{}, fmt.Errorf("journal exec: commit: %w", err)
	}
	committed = true
	res.Recorded, res.ID = true, e.ID
	return res, nil
}

// markWrite records the entry's marker and row stamps in live, and returns
// the entry's steps with, after each changeset, the stamps its rows had
// before it: what this writer had seen of each row, so a rebase can tell a
// concurrent write from one it overwrote knowingly.
func markWrite(live *sqlite.Conn, e Entry) ([]step, error) {
	ts := e.Time.UnixNano()
	if err := insertMarker(live, e.ID, ts, markApplied); err != nil {
		return nil, fmt.Errorf("marker: %w", err)
	}
	var out []step
	for _, s := range e.steps {
		out = append(out, s)
		if s.Kind != stepChangeset {
			continue
		}
		chs, err := parseChangeset(s.Data)
		if err != nil {
			return nil, err
		}
		var olds []byte
		for i := range chs {
			ch := &chs[i]
			rs, _, err := getRowStamps(live, ch.Table, ch.key())
			if err != nil {
				return nil, fmt.Errorf("row stamp: %w", err)
			}
			olds = appendRowStamps(olds, rs)
			stampChange(&rs, ch, stamp{e.ID, ts})
			if err := setRowStamps(live, ch.Table, ch.key(), rs); err != nil {
				return nil, fmt.Errorf("row stamp: %w", err)
			}
		}
		out = append(out, step{Kind: stepSeen, Data: olds})
	}
	return out, nil
}

// run executes the statements, returning the recorded steps.
func (j *Journal) run(live *sqlite.Conn, sql string, args []any) (steps []step, res Result, err error) {
	au := &authorizer{}
	if err := live.SetAuthorizer(au); err != nil {
		return nil, Result{}, err
	}
	defer live.SetAuthorizer(nil)
	var sess *sqlite.Session
	flush := func() error {
		if sess == nil {
			return nil
		}
		var buf bytes.Buffer
		err := sess.WriteChangeset(&buf)
		sess.Delete()
		sess = nil
		if err != nil {
			return err
		}
		if buf.Len() > 0 {
			steps = append(steps, step{Kind: stepChangeset, Data: buf.Bytes()})
		}
		return nil
	}
	defer flush()
	open := func() error {
		s, err := live.CreateSession("main")
		if err != nil {
			return err
		}
		if err := s.Attach(""); err != nil {
			s.Delete()
			return err
		}
		sess = s
		return nil
	}
	rest := strings.TrimSpace(sql)
	if rest == "" {
		return nil, Result{}, errors.New("empty statement")
	}
	for rest != "" {
		au.start()
		stmt, trailing, err := live.PrepareTransient(rest)
		au.user = false
		text := strings.TrimSpace(rest[:len(rest)-trailing])
		rest = strings.TrimSpace(rest[len(rest)-trailing:])
		if au.err != nil {
			if stmt != nil {
				stmt.Finalize()
			}
			return nil, Result{}, au.err
		}
		if err != nil {
			return nil, Result{}, err
		}
		if stmt == nil {
			continue
		}
		err = j.runStmt(live, stmt, text, au, &args, &steps, &res, flush, open, sess == nil)
		if ferr := stmt.Finalize(); err == nil {
			err = ferr
		}
		if err != nil {
			return nil, Result{}, err
		}
	}
	if len(args) > 0 {
		return nil, Result{}, fmt.Errorf("%d arguments left over", len(args))
	}
	if err := flush(); err != nil {
		return nil, Result{}, err
	}
	res.LastInsertID = live.LastInsertRowID()
	return steps, res, nil
}

func (j *Journal) runStmt(live *sqlite.Conn, stmt *sqlite.Stmt, text string, au *authorizer, args *[]any,
	steps *[]step, res *Result, flush, open func() error, noSession bool) error {
	for _, t := range au.writes {
		pk, _, err := tableShape(live, t)
		if err != nil {
			return err
		}
		has := false
		for _, p := range pk {
			has = has || p
		}
		if !has {
			return fmt.Errorf("%w: %s (declare one to write it through dhtdb)", ErrNoPrimaryKey, t)
		}
	}
	if au.ddl {
		if stmt.BindParamCount() > 0 {
			return fmt.Errorf("%w: schema statement with parameters", ErrUnsupported)
		}
		if err := flush(); err != nil {
			return err
		}
		if err := stepAll(stmt); err != nil {
			return err
		}
		*steps = append(*steps, step{Kind: stepSQL, Data: []byte(text)})
		return nil
	}
	if noSession {
		if err := open(); err != nil {
			return err
		}
	}
	if err := sqlarg.Bind(stmt, args); err != nil {
		return err
	}
	if err := stepAll(stmt); err != nil {
		return err
	}
	res.Changes += live.Changes()
	return nil
}

func stepAll(stmt *sqlite.Stmt) error {
	for {
		row, err := stmt.Step()
		if err != nil || !row {
			return err
		}
	}
}

// authorizer classifies each user statement while it is prepared: schema
// statement or not, which tables it writes; and refuses what a journaled
// write cannot carry. Statements of the journal itself (user false) pass.
type authorizer struct {
	user   bool
	ddl    bool
	writes []string
	err    error
}

func (a *authorizer) start() { *a = authorizer{user: true} }

func (a *authorizer) deny(err error) sqlite.AuthResult {
	if a.err == nil {
		a.err = err
	}
	return sqlite.AuthResultDeny
}

func (a *authorizer) Authorize(ac sqlite.Action) sqlite.AuthResult {
	if !a.user {
		return sqlite.AuthResultOK
	}
	switch ac.Type() {
	case sqlite.OpInsert, sqlite.OpUpdate, sqlite.OpDelete:
		t := ac.Table()
		if isReserved(t) {
			return a.deny(fmt.Errorf("%w: %s", ErrReserved, t))
		}
		if ac.Database() != "main" && ac.Database() != "" {
			return a.deny(fmt.Errorf("%w: write to %s.%s", ErrUnsupported, ac.Database(), t))
		}
		if !strings.HasPrefix(strings.ToLower(t), "sqlite_") && !a.ddl {
			for _, w := range a.writes {
				if w == t {
					return sqlite.AuthResultOK
				}
			}
			a.writes = append(a.writes, t)
		}
		if ac.Type() == sqlite.OpDelete && !a.ddl && !strings.HasPrefix(strings.ToLower(t), "sqlite_") {
			// Ignore on a DELETE keeps the statement but turns off the
			// truncate optimisation, so every deleted row is recorded.
			// (Not in DROP TABLE, checked after SQLITE_DROP_TABLE: there
			// Ignore would silently skip the drop.)
			return sqlite.AuthResultIgnore
		}
	case sqlite.OpCreateTable, sqlite.OpDropTable, sqlite.OpAlterTable, sqlite.OpCreateIndex, sqlite.OpDropIndex,
		sqlite.OpCreateTrigger, sqlite.OpDropTrigger, sqlite.OpCreateView, sqlite.OpDropView,
		sqlite.OpReindex, sqlite.OpAnalyze:
		for _, name := range []string{ac.Table(), ac.Index(), ac.Trigger(), ac.View()} {
			if isReserved(name) {
				return a.deny(fmt.Errorf("%w: %s", ErrReserved, name))
			}
		}
		a.ddl, a.writes = true, nil
	case sqlite.OpCreateVTable, sqlite.OpDropVTable:
		return a.deny(fmt.Errorf("%w: virtual tables", ErrUnsupported))
	case sqlite.OpCreateTempIndex, sqlite.OpCreateTempTable, sqlite.OpCreateTempTrigger, sqlite.OpCreateTempView,
		sqlite.OpDropTempIndex, sqlite.OpDropTempTable, sqlite.OpDropTempTrigger, sqlite.OpDropTempView:
		return a.deny(fmt.Errorf("%w: temporary objects", ErrUnsupported))
	case sqlite.OpPragma, sqlite.OpAttach, sqlite.OpDetach, sqlite.OpTransaction, sqlite.OpSavepoint:
		return a.deny(fmt.Errorf("%w: %s", ErrUnsupported, strings.TrimPrefix(ac.Type().String(), "SQLITE_")))
	}
	return sqlite.AuthResultOK
}
