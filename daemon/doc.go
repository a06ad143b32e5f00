// Package daemon runs the sync engine of a dhtdb node: for every database in
// the data directory, one goroutine drives a syncer.Follower with the real
// network — polls and re-puts through the DHT, fetches and seeds through the
// torrent swarm, installs through the snapshot package — and, for the
// databases this node owns, publishes automatically after writes (debounced).
//
// The goroutine is the thin I/O wrapper around the pure state machine: it
// feeds the Follower the current time and the outcome of each operation, and
// carries out the actions it returns, each long operation in its own
// goroutine whose result comes back to the loop as a closure. All state of a
// database's loop is owned by that loop goroutine.
//
// Owned databases have a write journal by default (Config.NoJournal turns it
// off): their loop polls like a follower's, and when another writer holding
// the same key published a newer version it runs db.CatchUp (fetch, confirm,
// rebase the local writes onto it) instead of installing it, then publishes
// what is still pending.
//
// The network is reached through two small interfaces defined here, Pointers
// and Transfers, so that the runner is tested with in-memory fakes; Network
// implements both (and db's Snapshotter/Seeder/Putter) over the dht, swarm and
// snapshot packages.
package daemon
