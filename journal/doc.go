// Package journal is the durable record of one writer's writes to one
// database, and the rebase of those writes onto another writer's version.
//
// Several users may hold a database's key and write to it. Their publishes
// race on the pointer's seq; BEP 44's cas makes one win and the others lose.
// The journal is what lets a loser lose nothing: every write (an exec) is
// recorded as an entry — SQLite session changesets for row changes, the SQL
// text of schema statements (which changesets cannot carry), in the order
// they ran — with an id (this writer's random 8-byte WriterID and a counter)
// and a timestamp from the injected clock. A losing writer fetches the
// winner's version and calls Rebase: its writes that the winner does not
// contain are applied on top, conflicts decided by a stated rule.
//
// # Files and the write rule
//
// The journal is its own SQLite file (WAL, synchronous=FULL), next to the
// working copy. Exec writes both in this order: run the statements in a
// transaction on the working copy (with the entry's marker and row stamps,
// below); append the entry to the journal and commit it there; then commit
// the working copy. A crash between the two commits leaves an entry the
// working copy lacks: Rebase on the working copy itself (Repair) at start-up
// applies it. So an acknowledged write is always in the journal, and in the
// working copy after Repair.
//
// # Inside every database
//
// Reserved tables (names starting with _dhtdb_, refused to user statements)
// travel in the database file, so each published version carries them:
//
//	_dhtdb_changesets  (writer, counter, ts, status): the writes the version
//	                   contains, "applied" or "rejected" by the conflict rule.
//	                   Rebase never applies a write listed here twice; Confirm
//	                   reads it to tell a writer its writes are published.
//	_dhtdb_rows        (tbl, pk, writer, counter, ts, cols): the last write of
//	                   each row, of each of its columns, its insert and the
//	                   last delete of its key, for the later-wins rule.
//	_dhtdb_conflicts   every conflict decided by a rebase, so both writers
//	                   (the rebasing one and the one whose row it met) learn
//	                   of it through Confirm.
//
// # The conflict rule
//
// A rebased change conflicts when the base changed the same row since the
// writer last saw it (SQLite's changeset conflicts: the row's values differ
// from those the change replaced). With PolicyLaterWins (the default): each
// column only one side changed keeps that side's value; a column both
// changed gets the value of the later write of that column by timestamp
// (ties: the greater writer id, then counter) — _dhtdb_rows keeps a stamp
// per column for this; an insert against an existing key is merged the same
// way; a delete wins over a concurrent update (in either order), and
// against a concurrent re-insert of the key the later of the two wins; a
// change that would break a UNIQUE/CHECK/NOT NULL constraint is skipped.
// _dhtdb_rows keeps, per row, the stamps of its last write, of each column,
// of the insert that made it and of the last delete of its key; each entry
// keeps, after each changeset, the stamps its rows had when it was made
// (what the writer had seen), so a concurrent write is recognised even when
// it set the very value the change replaced. For two concurrent writers the
// result does not depend on who published first. PolicyReject
// applies no part of a write that has any conflict and marks it rejected.
// Every conflict is returned as data (Conflict), logged and recorded.
//
// Tables without a PRIMARY KEY cannot be tracked by sessions: writes to them
// are refused with ErrNoPrimaryKey. PRAGMA, ATTACH, transaction statements,
// temporary objects and virtual tables are refused with ErrUnsupported.
package journal
