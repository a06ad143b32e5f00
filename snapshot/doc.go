// Package snapshot turns a SQLite database into a deterministic torrent
// and back: it makes the snapshot file, derives its v1 info dictionary,
// validates info dictionaries received from the network, plans and
// assembles a delta from the previous version, checks a received file and
// installs it crash-safely. It does no networking: package swarm seeds
// and fetches on top of it. The versions subpackage keeps the last
// versions of a database for seeding.
//
// # The snapshot file
//
// Create copies the live database with SQLite's online backup API inside
// one read transaction on the source. The file is the database's own page
// image: page n of the snapshot is page n of the database, which is what
// makes delta sync work (VACUUM INTO would renumber every page). Writers
// keep writing meanwhile (WAL) or wait for the copy (rollback journal);
// the snapshot is the database as of one commit either way. The result is
// in rollback-journal mode (header bytes 18/19 = 1), so a reader opens it
// read-only with no -wal or -shm file.
//
// Deterministic bytes: the snapshot is a function of the source's pages.
// The backup writes page 1 with three fields of its own, all derived
// deterministically: the schema cookie (offset 40) becomes 1 (the
// destination's, fresh, plus one), the file change counter (24) and
// version-valid-for (92) are the source's counter plus the destination
// commits, and bytes 18/19 are set to 1. Two snapshots of an unchanged
// database are byte-identical, and two databases built by the same
// statements with the same SQLite give identical snapshots, and a WAL
// database gives the same snapshot before and after a checkpoint (all
// tested). What
// can make equal *content* give different bytes is history, not the
// snapshot: free pages and unused space inside pages keep old bytes
// (unless secure_delete is on), and offset 96 records the SQLite version
// that last wrote the file. That is fine for delta sync, which compares
// one version of one database with the next.
//
// # The torrent
//
// NewInfo builds a v1 single-file info dictionary with exactly four keys,
// name, length, piece length and pieces, so the same bytes under the same
// name give the same infohash on every machine (testdata holds a golden
// infohash, checked independently of Go).
//
// Piece length rule (PieceLength): the smallest power of two, at least
// 16 KiB, for which the file has at most 8192 pieces (16 MiB at most).
// 16 KiB is the BitTorrent block size: a smaller piece is still one
// request. Small pieces make a change move little: a one-row change
// rewrites one or two 4 KiB pages, so it costs one or two pieces. But
// every piece costs 20 bytes of `pieces`, and a follower downloads the
// whole info dictionary (BEP 9) for every version, so the count is capped
// at 8192: at most 160 KiB of hashes, ten 16 KiB metadata blocks.
// For a change touching c pieces of length P in a file of S bytes, a
// follower receives about 20·S/P + c·P bytes; the minimum is at
// P = sqrt(20·S/c), about 25 KiB for 100 MB and c = 3, so 16–32 KiB is
// where the two costs balance. Worked out:
//
//	1 MB   (1,000,000 B):       16 KiB × 62 pieces,   1,240 B of hashes
//	100 MB (100,000,000 B):     16 KiB × 6,104 pieces, 122,080 B of hashes
//	1 GB   (1,000,000,000 B):  128 KiB × 7,630 pieces, 152,600 B of hashes
//	(16 KiB would be 61,036 pieces, 1.2 MB of metadata per version)
//
// The piece length doubles when the size crosses 128 MiB, 256 MiB, ...;
// across such a step nothing can be reused (Plan.SamePieceLength is false).
// Pieces are powers of two and so aligned to SQLite pages (512 B to
// 64 KiB); with the default 4 KiB pages a 16 KiB piece holds four pages,
// with 64 KiB pages one changed page is four pieces.
//
// Measured (BenchmarkSnapshotDelta, a 101 MB WAL database of 400-byte
// rows, 6,189 pieces of 16 KiB, 123,855 bytes of info dictionary), bytes
// a follower receives per version, metadata included: one row changed,
// 1 piece, 0.14 %; 1000 contiguous rows, 29 pieces, 0.59 %; 1000 rows
// spread evenly over the table, 995 pieces, 16 %.
//
// # Validation
//
// ValidateInfoBytes (for the bytes BEP 9 delivers) and ValidateInfo (for
// a decoded Info) refuse anything that is not such a snapshot: several
// files or a path, another name, a v2 or private torrent, extra keys, a
// piece length other than the rule's, a hash count that does not match
// the length, a length over the cap. Each reason is a sentinel error.
//
// # Delta
//
// PlanDelta compares two piece lists without reading a file: an index
// from hash to old piece finds unchanged pieces wherever they moved.
// Assemble creates the new file beside the old one (a temporary name in
// the same directory, so it can later be renamed into place), sizes it,
// copies the reusable pieces and re-hashes each as it copies: the old
// file is local data that may have rotted since it was verified, the SHA-1
// costs little next to the read, and a mismatch only adds the piece to
// Missing. The old file is opened read-only.
//
// # Check and swap
//
// Check reads the 100-byte header first (ErrNotSQLite unless it starts
// with "SQLite format 3\0"; ErrCorrupt for an impossible page size, WAL
// mode, or a length that disagrees with the header's page count), then
// opens the file read-only and immutable and runs PRAGMA quick_check
// (ErrCorrupt on anything but "ok").
//
// Swap protocol: the new file is complete and checked in the live file's
// directory; fsync it; rename it over the live file; fsync the directory.
// Until the rename the live file is untouched; the rename is atomic, so a
// crash at any moment leaves either the previous or the new version, each
// complete. A crash can leave a temporary file (".dhtdb-tmp-*"), which
// RemoveTemp deletes at start-up. The tests kill a child process at each
// step and check the live file opens and passes quick_check.
package snapshot
