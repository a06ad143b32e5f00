// Package versions keeps the files of the last versions of one database
// on a node, for seeding them and for falling back to them.
//
// A Store is a directory: one file per version, named by the lower-case
// hex infohash of its torrent, and versions.json, the manifest that
// orders them by the pointer seq that published them (List: newest
// first). Files enter by rename (Add), so a version assembled in the
// store's directory costs no copy; the live copy a user queries is
// installed from a store file with snapshot.InstallCopy.
//
// Retention: the five newest versions (Config.Keep) are always kept.
// Older ones are deleted when a newer one arrives, except while held:
// Acquire pins a version (a seeder holds what it seeds, a fallback reader
// what it reads) and its release deletes it if it has fallen out of
// retention meanwhile. Holds live in memory, per process.
//
// Crash safety: Add renames the file in and fsyncs the directory before
// writing the manifest; pruning writes the manifest before deleting
// files; the manifest is replaced atomically (temp, fsync, rename, fsync
// dir). So after a crash the manifest never names a file that is being
// written, and Open removes what a crash leaves: temporary files, version
// files the manifest does not list, and manifest entries whose file is
// missing or has the wrong size. Other files in the directory are left
// alone. A manifest that is not valid JSON makes Open fail rather than
// guess.
package versions
