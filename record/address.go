package record

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxNameSize is the longest database name in bytes: the BEP 44 salt limit.
const MaxNameSize = 64

// ErrBadAddress is wrapped by every ParseAddress and NewAddress error.
var ErrBadAddress = errors.New("bad database address")

const (
	schemePrefix = "dhtdb://"
	magnetPrefix = "magnet:?"
	btpkPrefix   = "urn:btpk:"
)

// Address names a database: its owner's ed25519 public key and its name,
// which is the BEP 44 salt of the pointer.
type Address struct {
	PublicKey [32]byte
	Name      string
}

// NewAddress checks pub and name and returns their Address.
func NewAddress(pub []byte, name string) (Address, error) {
	if len(pub) != 32 {
		return Address{}, fmt.Errorf("%w: public key is %d bytes, want 32", ErrBadAddress, len(pub))
	}
	if err := CheckName(name); err != nil {
		return Address{}, err
	}
	return Address{PublicKey: [32]byte(pub), Name: name}, nil
}

// CheckName reports whether name can name a database: valid UTF-8, 1 to
// MaxNameSize bytes.
func CheckName(name string) error {
	switch {
	case len(name) == 0:
		return fmt.Errorf("%w: empty name", ErrBadAddress)
	case len(name) > MaxNameSize:
		return fmt.Errorf("%w: name is %d bytes, at most %d", ErrBadAddress, len(name), MaxNameSize)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not valid UTF-8", ErrBadAddress)
	}
	return nil
}

// ParseAddress parses either text form of an address:
// dhtdb://<hex key>/<escaped name> or magnet:?xs=urn:btpk:<hex key>&s=<hex salt>.
func ParseAddress(s string) (Address, error) {
	switch {
	case hasPrefixFold(s, schemePrefix):
		return parseDhtdb(s[len(schemePrefix):])
	case hasPrefixFold(s, magnetPrefix):
		return parseMagnet(s[len(magnetPrefix):])
	}
	return Address{}, fmt.Errorf("%w: %q is neither dhtdb://KEY/NAME nor magnet:?xs=urn:btpk:KEY&s=SALT", ErrBadAddress, clip(s))
}

func parseDhtdb(rest string) (Address, error) {
	key, escaped, ok := strings.Cut(rest, "/")
	if !ok {
		return Address{}, fmt.Errorf("%w: no /name after the public key", ErrBadAddress)
	}
	pub, err := decodeKey(key)
	if err != nil {
		return Address{}, err
	}
	name, err := url.PathUnescape(escaped)
	if err != nil {
		return Address{}, fmt.Errorf("%w: name: %v", ErrBadAddress, err)
	}
	return NewAddress(pub, name)
}

func parseMagnet(query string) (Address, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return Address{}, fmt.Errorf("%w: magnet: %v", ErrBadAddress, err)
	}
	var key string
	for _, xs := range q["xs"] {
		if hasPrefixFold(xs, btpkPrefix) {
			key = xs[len(btpkPrefix):]
			break
		}
	}
	if key == "" {
		return Address{}, fmt.Errorf("%w: magnet has no xs=urn:btpk: public key", ErrBadAddress)
	}
	pub, err := decodeKey(key)
	if err != nil {
		return Address{}, err
	}
	salts := q["s"]
	if len(salts) == 0 {
		return Address{}, fmt.Errorf("%w: magnet has no s= salt (the database name)", ErrBadAddress)
	}
	salt, err := hex.DecodeString(salts[0])
	if err != nil {
		return Address{}, fmt.Errorf("%w: magnet salt is not hex", ErrBadAddress)
	}
	return NewAddress(pub, string(salt))
}

func decodeKey(s string) ([]byte, error) {
	pub, err := hex.DecodeString(s)
	if err != nil || len(pub) != 32 {
		return nil, fmt.Errorf("%w: public key must be 64 hex characters, got %q", ErrBadAddress, clip(s))
	}
	return pub, nil
}

// ParsePublicKey decodes a public key given as 64 hex characters.
func ParsePublicKey(s string) ([32]byte, error) {
	pub, err := decodeKey(s)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(pub), nil
}

// String returns the dhtdb:// form, the name URL path escaped.
func (a Address) String() string {
	return fmt.Sprintf("%s%x/%s", schemePrefix, a.PublicKey[:], url.PathEscape(a.Name))
}

// Magnet returns the BEP 46 magnet link.
func (a Address) Magnet() string {
	return fmt.Sprintf("%sxs=%s%x&s=%x", magnetPrefix, btpkPrefix, a.PublicKey[:], a.Name)
}

// Salt returns the BEP 44 salt of the pointer: the name's bytes.
func (a Address) Salt() []byte { return []byte(a.Name) }

// Target returns the DHT target of the pointer, SHA1(public key || salt).
func (a Address) Target() [20]byte {
	return sha1.Sum(append(a.PublicKey[:], a.Name...))
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// clip shortens user input quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
