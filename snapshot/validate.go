package snapshot

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// Errors of info validation, for callers to branch on with errors.Is.
var (
	ErrMultiFile     = errors.New("snapshot: torrent has several files")
	ErrPath          = errors.New("snapshot: torrent has a file path")
	ErrName          = errors.New("snapshot: torrent name is not the expected one")
	ErrBadName       = errors.New("snapshot: name is not a plain file name")
	ErrPieceLength   = errors.New("snapshot: piece length does not follow the rule")
	ErrPieces        = errors.New("snapshot: pieces do not match the length")
	ErrTooLarge      = errors.New("snapshot: torrent is larger than allowed")
	ErrEmpty         = errors.New("snapshot: empty snapshot")
	ErrLength        = errors.New("snapshot: length is not the expected one")
	ErrNotV1         = errors.New("snapshot: torrent is not plain v1")
	ErrExtraKey      = errors.New("snapshot: info has keys other than name, length, piece length, pieces")
	ErrNotCanonical  = errors.New("snapshot: info is not canonical bencode")
	ErrMalformedInfo = errors.New("snapshot: malformed info dictionary")
)

// DefaultMaxLength is the default cap on a snapshot's length (64 GiB).
const DefaultMaxLength int64 = 64 << 30

// maxNameLength is the longest accepted name (a common file system limit).
const maxNameLength = 255

// Expect is what a received info dictionary must match.
type Expect struct {
	// Name is the torrent name the snapshot must carry (required).
	Name string
	// MaxLength caps the length in bytes; 0 means DefaultMaxLength.
	// A pointer's `size` field is a good tighter cap.
	MaxLength int64
	// Length, when not 0, is the exact length expected.
	Length int64
}

// withDefaults returns a copy of e with defaults applied.
func (e Expect) withDefaults() Expect {
	if e.MaxLength == 0 {
		e.MaxLength = DefaultMaxLength
	}
	return e
}

// validate checks the expectation itself.
func (e Expect) validate() error {
	if err := validName(e.Name); err != nil {
		return fmt.Errorf("expected name: %w", err)
	}
	if e.MaxLength < 0 || e.Length < 0 {
		return fmt.Errorf("snapshot: negative length in expectation")
	}
	return nil
}

// ValidateInfo checks a decoded info dictionary against the snapshot
// rules: one file (no `files`, no v2 file tree, no path), the expected
// name, a length within the cap, the piece length of PieceLength(length)
// and exactly one 20-byte hash per piece. Use it before accepting
// metadata from the network. Errors wrap the sentinels above.
func ValidateInfo(info metainfo.Info, exp Expect) error {
	exp = exp.withDefaults()
	if err := exp.validate(); err != nil {
		return err
	}
	switch {
	case len(info.Files) > 1:
		return fmt.Errorf("%w: %d files", ErrMultiFile, len(info.Files))
	case len(info.Files) == 1:
		return fmt.Errorf("%w: %q", ErrPath, strings.Join(info.Files[0].Path, "/"))
	case info.MetaVersion != 0 || info.FileTree.NumEntries() != 0:
		return fmt.Errorf("%w: meta version %d", ErrNotV1, info.MetaVersion)
	case info.Private != nil || info.Source != "" || info.NameUtf8 != "" ||
		info.Attr != "" || len(info.SymlinkPath) != 0 || info.Sha1 != "":
		return ErrExtraKey
	}
	if err := validName(info.Name); err != nil {
		return err
	}
	if info.Name != exp.Name {
		return fmt.Errorf("%w: %q, want %q", ErrName, info.Name, exp.Name)
	}
	if info.Length <= 0 {
		return ErrEmpty
	}
	if info.Length > exp.MaxLength {
		return fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, info.Length, exp.MaxLength)
	}
	if exp.Length != 0 && info.Length != exp.Length {
		return fmt.Errorf("%w: %d bytes, want %d", ErrLength, info.Length, exp.Length)
	}
	if want := PieceLength(info.Length); info.PieceLength != want {
		return fmt.Errorf("%w: %d for %d bytes, want %d", ErrPieceLength, info.PieceLength, info.Length, want)
	}
	if want := numPieces(info.Length, info.PieceLength) * sha1.Size; int64(len(info.Pieces)) != want {
		return fmt.Errorf("%w: %d bytes of hashes, want %d", ErrPieces, len(info.Pieces), want)
	}
	return nil
}

// infoKeys are the only keys a snapshot info dictionary has.
var infoKeys = map[string]bool{"name": true, "length": true, "piece length": true, "pieces": true}

// ValidateInfoBytes decodes a bencoded info dictionary (as received by
// BEP 9) and validates it: it must hold exactly the four keys, be in
// canonical form (re-encoding gives the same bytes, so its infohash is
// the one NewInfo derives) and pass ValidateInfo.
func ValidateInfoBytes(b []byte, exp Expect) (metainfo.Info, error) {
	var raw map[string]bencode.Bytes
	if err := bencode.Unmarshal(b, &raw); err != nil {
		return metainfo.Info{}, fmt.Errorf("%w: %w", ErrMalformedInfo, err)
	}
	for k := range raw {
		if !infoKeys[k] {
			// The most telling error for the keys that change meaning.
			switch k {
			case "files":
				return metainfo.Info{}, ErrMultiFile
			case "meta version", "file tree":
				return metainfo.Info{}, ErrNotV1
			}
			return metainfo.Info{}, fmt.Errorf("%w: %q", ErrExtraKey, k)
		}
	}
	var info metainfo.Info
	if err := bencode.Unmarshal(b, &info); err != nil {
		return metainfo.Info{}, fmt.Errorf("%w: %w", ErrMalformedInfo, err)
	}
	if err := ValidateInfo(info, exp); err != nil {
		return metainfo.Info{}, err
	}
	again, err := InfoBytes(info)
	if err != nil {
		return metainfo.Info{}, err
	}
	if !bytes.Equal(again, b) {
		return metainfo.Info{}, ErrNotCanonical
	}
	return info, nil
}

// validName accepts a plain file name: non-empty, valid UTF-8, at most
// 255 bytes, no path separator, no NUL or control character, not "." or
// "..". The name is never used as a path by this package (versions are
// stored by infohash), but other clients save the file under it.
func validName(name string) error {
	switch {
	case name == "", name == ".", name == "..", len(name) > maxNameLength, !utf8.ValidString(name):
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}
