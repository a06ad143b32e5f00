// Package swarm is a dhtdb node's torrent engine: it seeds the snapshot
// versions the node holds and fetches new ones by infohash alone.
//
// It is built on anacrolix/torrent v1.61.0 over TCP (uTP optional), with
// the node's own DHT as the only peer source (package torrentdht; no
// trackers, no anacrolix DHT). A fetch
//
//   - finds peers through the DHT and gets the info dictionary by BEP 9;
//   - refuses metadata whose canonical encoding does not hash to the
//     infohash (anacrolix v1.61.0 does not check this for v1 magnets) and
//     a torrent that is not a snapshot of the expected name
//     (snapshot.ValidateInfo: one file, no path, the piece length rule);
//   - copies every piece the previous version already has
//     (snapshot.PlanDelta, snapshot.Assemble) into a new file beside it,
//     so only changed pieces cross the network;
//   - downloads the rest into that file through a storage of its own
//     (one file, completion in memory: anacrolix's file storage takes a
//     file at its final name as complete without hashing, and its
//     completion database slows large downloads 2 to 3 times);
//   - discards pieces that fail their hash and drops the peers that sent
//     them (anacrolix bans their address);
//   - checks the result with snapshot.Check before returning it, and keeps
//     seeding it;
//   - looks peers up again while it has none (the client's own DHT
//     announce repeats only every five minutes once it found someone);
//   - reports progress as Events (bytes, pieces, peers, rate).
//
// Seeding: Seed serves a version file as is (it is trusted, not hashed
// again); SeedStore keeps the seeded set equal to what a
// snapshot/versions store keeps (its five newest versions). A fetched
// file stays seeded from its open descriptor, so the store may rename it.
//
// Rate limits (Config.UploadRate, DownloadRate) are the client's, one
// limiter each per Swarm, never anacrolix's package-level one.
package swarm
