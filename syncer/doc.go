// Package syncer decides how a node follows a database published through the
// DHT: when to poll the pointer, which snapshot to fetch and from which base,
// when to fall back to an earlier version, when to install one, and when to
// re-put the signed pointer so that it stays alive.
//
// It is a pure state machine in the style of etcd's raft: no sockets, no
// goroutines, no wall clock. A Follower is fed events (the outcome of a poll,
// a fetch, an install, a put) and the current time, and returns the actions
// the driver must carry out, in order. Time advances only through the now
// argument of Tick and Step; jitter comes from the injected random source.
// This keeps every rule — replays refused, no downgrade, fallback, keep-alive —
// testable as a scenario script without a network (see testdata/*.txt).
//
// The package knows nothing of bencode or of the DHT: the driver verifies the
// signed item, decodes its record into a Pointer, and hands the signed item's
// bytes over as an opaque value that comes back unchanged in Put actions.
//
// Rules the Follower enforces (docs/PROTOCOL.md §3, §5, §6):
//   - a pointer with a seq lower than the highest seen is refused (replay), and
//     the held, newer item is re-put so the storing nodes learn it again;
//   - the local version only moves forward: an infohash older than the current
//     one in the pointer's history is never fetched or installed;
//   - the held item is re-put when a poll finds it on fewer than MinFound nodes
//     (or not at all), at least every KeepAliveInterval, and right after start;
//   - a fetch of the newest snapshot that does not complete within FetchTimeout
//     keeps running while the next entry of prev is tried, newest first; the
//     newest version that completes is installed, and failed fetches of newer
//     versions are retried every RetryInterval;
//   - a failed poll is retried after RetryInterval when that is sooner than
//     the next poll.
package syncer
