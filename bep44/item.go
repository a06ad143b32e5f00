package bep44

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"fmt"
	"strconv"

	"github.com/dhtdb/dhtdb/krpc/bencode"
)

// Size limits of BEP 44.
const (
	MaxValueSize = 1000 // bencoded `v`
	MaxSaltSize  = 64
)

// BEP 44 error codes, sent by a storing node that rejects a put.
const (
	CodeTooBig       = 205 // v larger than MaxValueSize
	CodeBadSignature = 206 // signature does not verify
	CodeSaltTooBig   = 207 // salt larger than MaxSaltSize
	CodeCASMismatch  = 301 // cas differs from the stored seq
	CodeSeqTooLow    = 302 // seq lower than (or equal to, with another v) the stored seq
)

// Sentinel errors wrapped by Verify, NewImmutable and NewMutable.
var (
	ErrTooBig       = errors.New("bep44: value too big")
	ErrSaltTooBig   = errors.New("bep44: salt too big")
	ErrBadSignature = errors.New("bep44: bad signature")
	ErrBadValue     = errors.New("bep44: value is not valid bencode")
	ErrBadKey       = errors.New("bep44: bad public or private key")
)

// Item is a BEP 44 item, immutable or mutable.
type Item struct {
	V       []byte   // the value, bencoded, verbatim bytes (what is signed/hashed)
	Mutable bool     // the item is mutable: K, Salt, Seq and Sig are meaningful
	K       [32]byte // ed25519 public key (mutable)
	Salt    []byte   // (mutable)
	Seq     int64    // (mutable)
	Sig     [64]byte // (mutable)
}

// NewImmutable returns the immutable item of v, which must be valid bencode of
// at most MaxValueSize bytes.
func NewImmutable(v []byte) (Item, error) {
	it := Item{V: bytes.Clone(v)}
	if err := it.Verify(); err != nil {
		return Item{}, err
	}
	return it, nil
}

// NewMutable signs v (valid bencode) with priv under salt and seq.
func NewMutable(priv ed25519.PrivateKey, salt []byte, seq int64, v []byte) (Item, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Item{}, fmt.Errorf("%w: private key of %d bytes", ErrBadKey, len(priv))
	}
	it := Item{V: bytes.Clone(v), Mutable: true, Salt: bytes.Clone(salt), Seq: seq}
	if err := it.checkSizes(); err != nil {
		return Item{}, err
	}
	copy(it.K[:], priv.Public().(ed25519.PublicKey))
	copy(it.Sig[:], ed25519.Sign(priv, SignatureBuffer(it.Salt, seq, it.V)))
	return it, nil
}

func (it Item) checkSizes() error {
	if len(it.V) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooBig, len(it.V), MaxValueSize)
	}
	if err := bencode.Check(it.V); err != nil {
		return fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	if len(it.Salt) > MaxSaltSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrSaltTooBig, len(it.Salt), MaxSaltSize)
	}
	return nil
}

// Verify checks the value's size and encoding, the salt's size and, for a
// mutable item, the signature. Errors wrap ErrTooBig, ErrBadValue,
// ErrSaltTooBig or ErrBadSignature.
func (it Item) Verify() error {
	if err := it.checkSizes(); err != nil {
		return err
	}
	if !it.Mutable {
		return nil
	}
	if !ed25519.Verify(ed25519.PublicKey(it.K[:]), SignatureBuffer(it.Salt, it.Seq, it.V), it.Sig[:]) {
		return ErrBadSignature
	}
	return nil
}

// Code returns the BEP 44 error code a storing node sends for err (an error
// returned by Verify), or 0 if err has no specific code.
func Code(err error) int {
	switch {
	case errors.Is(err, ErrTooBig):
		return CodeTooBig
	case errors.Is(err, ErrSaltTooBig):
		return CodeSaltTooBig
	case errors.Is(err, ErrBadSignature):
		return CodeBadSignature
	}
	return 0
}

// Target returns the DHT key of the item: SHA1(v) for an immutable item,
// SHA1(k || salt) for a mutable one.
func (it Item) Target() [20]byte {
	if it.Mutable {
		return MutableTarget(it.K, it.Salt)
	}
	return ImmutableTarget(it.V)
}

// ImmutableTarget is SHA1 of the bencoded value.
func ImmutableTarget(v []byte) [20]byte { return sha1.Sum(v) }

// MutableTarget is SHA1 of the public key followed by the salt.
func MutableTarget(pub [32]byte, salt []byte) [20]byte {
	h := sha1.New()
	h.Write(pub[:])
	h.Write(salt)
	var t [20]byte
	h.Sum(t[:0])
	return t
}

// SignatureBuffer returns the bytes a mutable item's signature covers:
// `4:salt<len>:<salt>` (only when salt is not empty), `3:seqi<seq>e`, and
// `1:v` followed by the verbatim bencoded value.
func SignatureBuffer(salt []byte, seq int64, v []byte) []byte {
	b := make([]byte, 0, len(salt)+len(v)+40)
	if len(salt) > 0 {
		b = append(b, "4:salt"...)
		b = strconv.AppendInt(b, int64(len(salt)), 10)
		b = append(b, ':')
		b = append(b, salt...)
	}
	b = append(b, "3:seqi"...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, "e1:v"...)
	return append(b, v...)
}
