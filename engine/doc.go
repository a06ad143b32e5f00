// Package engine decides everything about a database's versions, for a
// reader, a writer and writers sharing a key alike: when to poll the pointer,
// which snapshot to fetch and from which base, when to fall back to an
// earlier version, when to install one or rebase our writes onto it, when to
// re-put the signed pointer so that it stays alive, and when and how to
// publish: snapshot, sign, put with cas, read back, confirm, and retry after
// a race lost.
//
// It is a pure state machine in the style of etcd's raft: no sockets, no
// goroutines, no wall clock. An Engine is fed events (the outcome of a poll,
// a fetch, an install, a put, a write, a publish step) and the current time,
// and returns the actions the driver must carry out, in order. Time advances
// only through the now argument of Tick and Step; jitter comes from the
// injected random source. The Engine is the only writer of the durable sync
// state: it hands the driver a Save action with the state to persist, before
// the actions that depend on it, and a driver whose Save fails carries out
// none of the actions after it. Every rule is testable as a scenario script
// without a network (testdata/*.txt, rewritten with -rewrite).
//
// Engine is the successor of package syncer's Follower, which drives
// followers and the owner's keep-alive in the daemon today; the daemon's
// publish and catch-up (package db) move onto this engine next. Until then
// nothing outside this package's tests runs it.
//
// The package knows nothing of bencode, SQLite or the DHT: the driver
// verifies signed items, decodes records into a Pointer, and hands the signed
// item's bytes over as an opaque value that comes back unchanged in Put
// actions.
//
// # Reading (every mode)
//
//   - a pointer with a seq lower than the highest seen is refused (replay), and
//     the held, newer item is re-put so the storing nodes learn it again;
//   - the local version only moves forward: an infohash older than the current
//     one in the pointer's history is never fetched or installed;
//   - the held item is re-put when a poll finds it on fewer than MinFound nodes
//     (or not at all), at least every KeepAliveInterval, and right after start;
//   - a follower's fetch of the newest snapshot that does not complete within
//     FetchTimeout keeps running while the next entry of prev is tried, newest
//     first; the newest version that completes is installed, and failed
//     fetches of newer versions are retried every RetryInterval;
//   - a failed poll is retried after RetryInterval when that is sooner than
//     the next poll.
//
// # Writing (Write and WriteJournaled)
//
//   - a write makes a publish due PublishDelay after the last write of a
//     burst, at the latest MaxPublishDelay after the first (unless
//     ManualPublish); a PublishRequest starts one now, and is answered by a
//     PublishDone once a publish that began after it ends;
//   - a publish prepares (snapshot, seed, sign seq+1 over the held pointer),
//     saves the signed item as Pending, then puts it with cas = the held seq;
//     a pending item left by a failure or a crash is put again, the same
//     bytes without cas, before anything newer;
//   - without a journal, a put refused for a cas or seq conflict fails the
//     publish with ErrConflict: the working copy cannot be merged;
//   - a journaled writer reads the newest pointer before preparing, and
//     after its put: when another writer's pointer is newer (or is the value
//     served at our seq: a split), it fetches that version only (never an
//     older one), rebases our unpublished writes onto it (Rebase), and
//     publishes again, up to PublishAttempts times; when its own pointer is
//     read back, the journal is told which writes it holds (Confirm);
//   - a locked key (PrepareFailed with Locked) stops automatic publishes until
//     Unlocked; a read-only pointer (ro) refuses every publish.
package engine
