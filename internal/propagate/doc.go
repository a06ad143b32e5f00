// Package propagate is the propagation benchmark of dhtdb (`dhtdb bench
// propagate`): on loopback, in one process, a DHT test network, one writer
// daemon and N reader daemons that follow its database. The writer commits
// and publishes versions one after another; for each, the time from the
// commit until every reader holds the new version is measured. Then the
// readers sit idle and the cost of following is measured: packets and bytes
// of the DHT socket per poll of an unchanged pointer.
//
// It uses the real parts a user runs — DHT node over UDP, torrent client over
// TCP, SQLite snapshots — and nothing outside 127.0.0.1.
package propagate
