package record

import (
	"encoding/hex"
	"fmt"
)

// Hash is a snapshot's v1 infohash, the one name of a version in the layers
// above the codecs (the pointer's ih and prev entries decode to it).
type Hash [20]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros (no version).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as 40 hex digits (JSON state files).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 40 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("record: infohash of %d hex digits, want 40", len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("record: infohash: %w", err)
	}
	return nil
}

// ParseHash decodes 40 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}
