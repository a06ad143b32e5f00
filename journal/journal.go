package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/clock"
)

// WriterID names one writer installation: 8 random bytes, created with the
// journal and kept in it.
type WriterID [8]byte

func (w WriterID) String() string { return hex.EncodeToString(w[:]) }

// MarshalText encodes the id as 16 hex digits.
func (w WriterID) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText decodes 16 hex digits.
func (w *WriterID) UnmarshalText(b []byte) error {
	if len(b) != 16 {
		return fmt.Errorf("journal: writer id %q: want 16 hex digits", b)
	}
	_, err := hex.Decode(w[:], b)
	return err
}

// ID names one recorded write: its writer and that writer's counter (1, 2, ...).
type ID struct {
	Writer  WriterID `json:"writer"`
	Counter int64    `json:"counter"`
}

func (id ID) String() string { return fmt.Sprintf("%s/%d", id.Writer, id.Counter) }

// less orders writes by (timestamp, writer, counter): the later write wins.
func later(ats int64, a ID, bts int64, b ID) bool {
	if ats != bts {
		return ats > bts
	}
	if c := compareBytes(a.Writer[:], b.Writer[:]); c != 0 {
		return c > 0
	}
	return a.Counter > b.Counter
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

// Policy is the rule for two writers who changed the same row concurrently.
type Policy string

const (
	// PolicyLaterWins: the write with the later timestamp wins (ties: the
	// greater writer id, then counter); columns only one side changed are
	// kept from both; a delete wins over a concurrent update.
	PolicyLaterWins Policy = "later-wins"
	// PolicyReject: a rebased write that conflicts with the base is not
	// applied at all (its whole exec is rejected) and is reported.
	PolicyReject Policy = "reject"
	// DefaultPolicy is used when Config.Policy is empty.
	DefaultPolicy = PolicyLaterWins
)

// Config configures a Journal.
type Config struct {
	// Path is the journal's SQLite file (created when missing). Required.
	Path string
	// Clock stamps each write. nil: clock.Real{}.
	Clock clock.Clock
	// Rand makes the writer id of a new journal. nil: crypto/rand.
	Rand io.Reader
	// Policy decides same-row conflicts in Rebase. "": DefaultPolicy.
	Policy Policy
	// Logger receives conflicts and repairs. nil: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		return c, errors.New("journal: config: Path is required")
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Policy == "" {
		c.Policy = DefaultPolicy
	}
	if c.Policy != PolicyLaterWins && c.Policy != PolicyReject {
		return c, fmt.Errorf("journal: config: unknown policy %q", c.Policy)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Entry states in the journal file.
const (
	statePending   = 0 // not yet in a confirmed published version
	statePublished = 1 // a published version contains it, applied
	stateRejected  = 2 // a published version contains it, rejected by the conflict rule
)

// Step kinds of an entry.
const (
	stepSQL       = 1 // a schema statement, replayed as text
	stepChangeset = 2 // a session changeset
	stepStamps    = 3 // the stamps the previous changeset's rows had before it (without birth stamps)
	stepSeen      = 4 // the same with birth stamps (what Exec records now)
)

type step struct {
	Kind int
	Data []byte
}

// Entry is one recorded write.
type Entry struct {
	ID    ID        `json:"id"`
	Time  time.Time `json:"time"`
	State string    `json:"state"` // "pending", "published", "rejected"
	Seq   int64     `json:"seq,omitempty"`
	steps []step
}

func stateName(s int) string {
	switch s {
	case statePublished:
		return "published"
	case stateRejected:
		return "rejected"
	}
	return "pending"
}

// Journal is the durable record of one writer's writes to one database. It is
// safe for concurrent use; the live connections passed to its methods are
// not (the caller serialises writes, as db does).
type Journal struct {
	cfg    Config
	writer WriterID

	mu   sync.Mutex
	conn *sqlite.Conn
	next int64 // next counter

	// crashAfterAppend, when set (tests), runs between the journal append
	// and the live commit; an error returned aborts Exec there, as a crash
	// would: the journal keeps the entry, live rolls back.
	crashAfterAppend func() error
}

const journalSchema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entries(counter INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
  state INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS steps(counter INTEGER NOT NULL, idx INTEGER NOT NULL,
  kind INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(counter, idx));
CREATE TABLE IF NOT EXISTS seen_conflicts(writer BLOB NOT NULL, counter INTEGER NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY(writer, counter, n));
`

// Open opens (or creates) the journal at cfg.Path. A new journal gets a new
// random writer id.
func Open(cfg Config) (*Journal, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := sqlite.OpenConn(cfg.Path, sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{cfg: cfg, conn: c}
	if err := j.init(); err != nil {
		c.Close()
		return nil, fmt.Errorf("open journal %s: %w", cfg.Path, err)
	}
	return j, nil
}

func (j *Journal) init() (err error) {
	for _, p := range []string{"journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"} {
		if err := sqlitex.ExecuteTransient(j.conn, "PRAGMA "+p, nil); err != nil {
			return fmt.Errorf("pragma %s: %w", p, err)
		}
	}
	defer sqlitex.Save(j.conn)(&err)
	if err := sqlitex.ExecuteScript(j.conn, journalSchema, nil); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	var id []byte
	err = sqlitex.Execute(j.conn, "SELECT value FROM meta WHERE key = 'writer'", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { id = columnBytes(s, 0); return nil }})
	if err != nil {
		return err
	}
	if id == nil {
		id = make([]byte, 8)
		if _, err := io.ReadFull(j.cfg.Rand, id); err != nil {
			return fmt.Errorf("writer id: %w", err)
		}
		if err := sqlitex.Execute(j.conn, "INSERT INTO meta(key, value) VALUES('writer', ?)",
			&sqlitex.ExecOptions{Args: []any{id}}); err != nil {
			return err
		}
	}
	if len(id) != 8 {
		return fmt.Errorf("writer id of %d bytes", len(id))
	}
	j.writer = WriterID(id)
	return sqlitex.Execute(j.conn, "SELECT COALESCE(MAX(counter), 0) + 1 FROM entries", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { j.next = s.ColumnInt64(0); return nil }})
}

// Writer returns this journal's writer id.
func (j *Journal) Writer() WriterID { return j.writer }

// Policy returns the conflict policy Rebase applies.
func (j *Journal) Policy() Policy { return j.cfg.Policy }

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn == nil {
		return nil
	}
	err := j.conn.Close()
	j.conn = nil
	if err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}

// append stores an entry durably (its own transaction, synchronous=FULL).
func (j *Journal) append(e Entry) (err error) {
	defer sqlitex.Save(j.conn)(&err)
	if err := sqlitex.Execute(j.conn, "INSERT INTO entries(counter, ts) VALUES(?, ?)",
		&sqlitex.ExecOptions{Args: []any{e.ID.Counter, e.Time.UnixNano()}}); err != nil {
		return fmt.Errorf("append entry: %w", err)
	}
	for i, s := range e.steps {
		if err := sqlitex.Execute(j.conn, "INSERT INTO steps(counter, idx, kind, data) VALUES(?, ?, ?, ?)",
			&sqlitex.ExecOptions{Args: []any{e.ID.Counter, i, s.Kind, s.Data}}); err != nil {
			return fmt.Errorf("append step: %w", err)
		}
	}
	return nil
}

// remove deletes an entry whose live commit failed.
func (j *Journal) remove(counter int64) (err error) {
	defer sqlitex.Save(j.conn)(&err)
	for _, q := range []string{"DELETE FROM steps WHERE counter = ?", "DELETE FROM entries WHERE counter = ?"} {
		if err := sqlitex.Execute(j.conn, q, &sqlitex.ExecOptions{Args: []any{counter}}); err != nil {
			return err
		}
	}
	return nil
}

// entries returns the entries in counter order, with their steps when
// withSteps; onlyPending limits them to the pending ones.
func (j *Journal) entries(onlyPending, withSteps bool) ([]Entry, error) {
	if j.conn == nil {
		return nil, errClosed
	}
	q := "SELECT counter, ts, state, seq FROM entries ORDER BY counter"
	if onlyPending {
		q = "SELECT counter, ts, state, seq FROM entries WHERE state = 0 ORDER BY counter"
	}
	var out []Entry
	err := sqlitex.Execute(j.conn, q, &sqlitex.ExecOptions{ResultFunc: func(s *sqlite.Stmt) error {
		out = append(out, Entry{ID: ID{j.writer, s.ColumnInt64(0)}, Time: time.Unix(0, s.ColumnInt64(1)).UTC(),
			State: stateName(s.ColumnInt(2)), Seq: s.ColumnInt64(3)})
		return nil
	}})
	if err != nil || !withSteps {
		return out, err
	}
	for i := range out {
		err := sqlitex.Execute(j.conn, "SELECT kind, data FROM steps WHERE counter = ? ORDER BY idx",
			&sqlitex.ExecOptions{Args: []any{out[i].ID.Counter}, ResultFunc: func(s *sqlite.Stmt) error {
				out[i].steps = append(out[i].steps, step{Kind: s.ColumnInt(0), Data: columnBytes(s, 1)})
				return nil
			}})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Pending returns the writes not yet contained in a published version that
// was confirmed (Confirm), oldest first.
func (j *Journal) Pending() ([]Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	es, err := j.entries(true, false)
	if err != nil {
		return nil, fmt.Errorf("journal pending: %w", err)
	}
	return es, nil
}

// Entries returns every recorded write, oldest first.
func (j *Journal) Entries() ([]Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	es, err := j.entries(false, false)
	if err != nil {
		return nil, fmt.Errorf("journal entries: %w", err)
	}
	return es, nil
}

// Published reports, for each id, whether a confirmed published version
// contains it (applied or rejected by the conflict rule).
func (j *Journal) Published(ids []ID) ([]bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]bool, len(ids))
	for i, id := range ids {
		if id.Writer != j.writer {
			return nil, fmt.Errorf("journal published: %s is not this writer's", id)
		}
		err := sqlitex.Execute(j.conn, "SELECT state FROM entries WHERE counter = ?", &sqlitex.ExecOptions{
			Args: []any{id.Counter}, ResultFunc: func(s *sqlite.Stmt) error { out[i] = s.ColumnInt(0) != statePending; return nil }})
		if err != nil {
			return nil, fmt.Errorf("journal published: %w", err)
		}
	}
	return out, nil
}

var errClosed = errors.New("journal: closed")

func columnBytes(s *sqlite.Stmt, i int) []byte {
	b := make([]byte, s.ColumnLen(i))
	s.ColumnBytes(i, b)
	return b
}
