// Package keyfile reads and writes the ed25519 key files that own dhtdb
// databases.
//
// A key file holds the 32-byte ed25519 seed in a small, versioned text form:
//
//	dhtdb-ed25519-key v1
//	seed <64 hex characters>
//	public <64 hex characters>
//
// The public line lets Load detect a damaged file (it must match the seed).
// By default that text is encrypted to a passphrase with filippo.io/age's
// scrypt recipient and stored ASCII-armored ("-----BEGIN AGE ENCRYPTED
// FILE-----"), so a key file can be kept like any age file and even opened
// with the age tool (`age -d`). For automation a plaintext file (mode 0600)
// can be written instead; Load refuses a plaintext key that group or others
// can read, as ssh does, because that key can rewrite the database.
//
// Files are never overwritten: Write fails with ErrExists.
package keyfile
