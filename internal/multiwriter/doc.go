// Package multiwriter holds the end-to-end tests of several writers sharing
// one database key (many writers, nothing lost): real `dhtdb testnet` and
// `dhtdb serve` processes on loopback, driven through the HTTP API, checking
// what docs/WRITES.md promises — every acknowledged write ends in the
// published version, same-row conflicts are decided by the stated rule and
// reported to both writers, and an offline writer's writes are rebased onto
// what was published meanwhile.
//
// The package has no code of its own; the tests build cmd/dhtdb once.
package multiwriter
