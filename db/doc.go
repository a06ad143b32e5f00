// Package db is the local side of dhtdb: the data directory where a node keeps
// the databases it owns and follows, the SQLite working copies, the signed
// pointers it holds, and the publish path of a writer.
//
// # Data directory layout
//
//	DIR/
//	  dbs/<64 hex of the public key>/<hex of the name>/
//	    live.sqlite    the database: the owner's working copy (WAL mode,
//	                   synchronous=FULL), or the follower's installed version
//	    state.json     what must survive a restart, replaced atomically
//	                   (write temp, fsync, rename, fsync dir): the role, the
//	                   highest seq seen with the signed pointer item held (its
//	                   bytes, re-put verbatim after a restart), the installed
//	                   version, and a publish that is signed but not yet stored
//	    journal.sqlite the owner's write journal, with Config.Journal (package
//	                   journal: every Exec as a changeset, for rebasing)
//	    versions/      snapshot files of published or fetched versions, kept
//	                   and seeded by the snapshot/swarm packages
//	  daemon.json      while a daemon runs on DIR: where its API listens
//
// The name is hex-encoded in the path because a database name is any UTF-8
// salt of 1 to 64 bytes, '/' and '..' included.
//
// # Writing and publishing
//
// Exec runs SQL on the owner's working copy; the transaction is committed with
// synchronous=FULL before Exec returns, so a write is durable locally. With
// Config.Journal the write is first appended to the journal (and a crash
// between journal and live commit is repaired when the writer reopens). Publish
// snapshots the working copy (deterministic torrent), seeds it, builds the next
// pointer record (seq+1, the previous ih moved into prev), signs it and puts it
// with cas = the previous seq. The signed item is saved as pending before the
// put: a publish that fails, or is interrupted by a crash, is finished first by
// the next Publish, with the same bytes, before anything newer is published.
// Debounce is the pure rule for publishing automatically after writes.
//
// Snapshotting, seeding and putting are the small interfaces Snapshotter,
// Seeder and Putter, defined here where they are used; the daemon adapts the
// snapshot, swarm and dht packages to them.
package db
