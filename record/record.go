package record

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// MaxSize is the largest bencoded record: the BEP 44 value limit.
const MaxSize = 1000

// MaxPrev is how many earlier snapshots a record lists.
const MaxPrev = 4

// Errors callers branch on. Decode and Encode errors wrap one of them.
var (
	ErrTooBig    = errors.New("record larger than 1000 bytes")
	ErrMalformed = errors.New("malformed record")
)

// Record is a decoded pointer. The zero value is not a valid record (IH is
// required); build the first one with Next(Record{}, ih, size, t).
type Record struct {
	// IH is the v1 infohash of the current snapshot torrent.
	IH [20]byte
	// Prev lists earlier snapshots, newest first, at most MaxPrev. nil means
	// no prev key; an empty non-nil slice is an empty list.
	Prev [][20]byte
	// T is the publication time in Unix seconds (informational; order is by
	// seq). 0 when the record carries none (BEP 46 writers).
	T int64
	// Size is the snapshot length in bytes; 0 when the record carries none.
	Size int64
	// ReadOnly is set when the owner locked the database (ro = 1).
	ReadOnly bool
	// NextKey, when not nil, is the 32-byte public key the owner moved the
	// database to (key rotation).
	NextKey []byte
	// Enc, when not empty, says the snapshot is encrypted: scheme and key id.
	Enc string
	// Unknown holds the keys this version does not know, each with its
	// verbatim bencoded value. Encode writes them back unchanged.
	Unknown map[string]bencode.Bytes
}

var knownKeys = []string{"enc", "ih", "next", "prev", "ro", "size", "t"}

// Decode parses a bencoded record strictly.
func Decode(v []byte) (Record, error) {
	var r Record
	if len(v) > MaxSize {
		return r, fmt.Errorf("%w (%d bytes)", ErrTooBig, len(v))
	}
	if len(v) == 0 || v[0] != 'd' {
		return r, fmt.Errorf("%w: not a bencoded dictionary", ErrMalformed)
	}
	var dict map[string]bencode.Bytes
	if err := bencode.Unmarshal(v, &dict); err != nil {
		return r, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// Re-encoding the raw values sorts the keys: any difference means the
	// input was not canonical (unsorted or repeated keys).
	if again, err := bencode.Marshal(dict); err != nil || !bytes.Equal(again, v) {
		return r, fmt.Errorf("%w: dictionary keys unsorted or repeated", ErrMalformed)
	}
	raw, ok := dict["ih"]
	if !ok {
		return r, fmt.Errorf("%w: no ih", ErrMalformed)
	}
	ih, err := decodeString("ih", raw, 20)
	if err != nil {
		return r, err
	}
	r.IH = [20]byte(ih)
	if raw, ok := dict["prev"]; ok {
		if r.Prev, err = decodePrev(raw); err != nil {
			return r, err
		}
	}
	if raw, ok := dict["t"]; ok {
		if r.T, err = decodeInt("t", raw); err != nil {
			return r, err
		}
	}
	if raw, ok := dict["size"]; ok {
		if r.Size, err = decodeInt("size", raw); err != nil {
			return r, err
		}
	}
	if raw, ok := dict["ro"]; ok {
		n, err := decodeInt("ro", raw)
		if err != nil {
			return r, err
		}
		if n != 1 {
			return r, fmt.Errorf("%w: ro is %d, want 1 (or absent)", ErrMalformed, n)
		}
		r.ReadOnly = true
	}
	if raw, ok := dict["next"]; ok {
		if r.NextKey, err = decodeString("next", raw, 32); err != nil {
			return r, err
		}
	}
	if raw, ok := dict["enc"]; ok {
		enc, err := decodeString("enc", raw, -1)
		if err != nil {
			return r, err
		}
		if len(enc) == 0 {
			return r, fmt.Errorf("%w: enc is empty", ErrMalformed)
		}
		r.Enc = string(enc)
	}
	for k, raw := range dict {
		if !slices.Contains(knownKeys, k) {
			if err := checkValue(k, raw); err != nil {
				return r, err
			}
			if r.Unknown == nil {
				r.Unknown = make(map[string]bencode.Bytes)
			}
			r.Unknown[k] = raw
		}
	}
	return r, nil
}

// checkValue checks that the value of unknown key k is one well-formed
// bencoded value.
func checkValue(k string, raw []byte) error {
	var x any
	if len(raw) == 0 || bencode.Unmarshal(raw, &x) != nil {
		return fmt.Errorf("%w: value of %q is not one bencoded value", ErrMalformed, k)
	}
	return nil
}

// kind names the bencode type of a raw value by its first byte.
func kind(raw []byte) string {
	switch raw[0] {
	case 'i':
		return "an integer"
	case 'l':
		return "a list"
	case 'd':
		return "a dictionary"
	}
	return "a string"
}

// decodeString decodes a bencoded string of exactly n bytes (any length if
// n < 0).
func decodeString(key string, raw []byte, n int) ([]byte, error) {
	if k := kind(raw); k != "a string" {
		return nil, fmt.Errorf("%w: %s is %s, want a string", ErrMalformed, key, k)
	}
	var b []byte
	if err := bencode.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	if n >= 0 && len(b) != n {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrMalformed, key, len(b), n)
	}
	return b, nil
}

func decodeInt(key string, raw []byte) (int64, error) {
	if k := kind(raw); k != "an integer" {
		return 0, fmt.Errorf("%w: %s is %s, want an integer", ErrMalformed, key, k)
	}
	var n int64
	if err := bencode.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: %s is negative (%d)", ErrMalformed, key, n)
	}
	return n, nil
}

func decodePrev(raw []byte) ([][20]byte, error) {
	if k := kind(raw); k != "a list" {
		return nil, fmt.Errorf("%w: prev is %s, want a list", ErrMalformed, k)
	}
	var items []bencode.Bytes
	if err := bencode.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: prev: %v", ErrMalformed, err)
	}
	if len(items) > MaxPrev {
		return nil, fmt.Errorf("%w: prev has %d entries, at most %d", ErrMalformed, len(items), MaxPrev)
	}
	prev := make([][20]byte, 0, len(items))
	for i, it := range items {
		b, err := decodeString(fmt.Sprintf("prev[%d]", i), it, 20)
		if err != nil {
			return nil, err
		}
		prev = append(prev, [20]byte(b))
	}
	return prev, nil
}

// Encode returns the canonical bencoding of r. It checks what Decode checks,
// so anything Encode returns decodes to r again.
func (r Record) Encode() ([]byte, error) {
	if r.IH == ([20]byte{}) {
		return nil, fmt.Errorf("%w: ih is zero", ErrMalformed)
	}
	if len(r.Prev) > MaxPrev {
		return nil, fmt.Errorf("%w: prev has %d entries, at most %d", ErrMalformed, len(r.Prev), MaxPrev)
	}
	if r.T < 0 || r.Size < 0 {
		return nil, fmt.Errorf("%w: negative t or size", ErrMalformed)
	}
	if r.NextKey != nil && len(r.NextKey) != 32 {
		return nil, fmt.Errorf("%w: next is %d bytes, want 32", ErrMalformed, len(r.NextKey))
	}
	dict := make(map[string]bencode.Bytes, len(knownKeys)+len(r.Unknown))
	for k, raw := range r.Unknown {
		if slices.Contains(knownKeys, k) {
			return nil, fmt.Errorf("%w: unknown key %q is a known one", ErrMalformed, k)
		}
		if err := checkValue(k, raw); err != nil {
			return nil, err
		}
		dict[k] = raw
	}
	put := func(k string, v any) {
		dict[k] = bencode.MustMarshal(v)
	}
	put("ih", r.IH[:])
	if r.Prev != nil {
		prev := make([][]byte, len(r.Prev))
		for i := range r.Prev {
			prev[i] = r.Prev[i][:]
		}
		put("prev", prev)
	}
	put("t", r.T)
	put("size", r.Size)
	if r.ReadOnly {
		put("ro", 1)
	}
	if r.NextKey != nil {
		put("next", r.NextKey)
	}
	if r.Enc != "" {
		put("enc", r.Enc)
	}
	v, err := bencode.Marshal(dict)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	if len(v) > MaxSize {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooBig, len(v))
	}
	return v, nil
}

// Next builds the record that follows prev when the snapshot ih of size bytes
// is published at time t: prev's ih moves to the front of prev (which keeps
// MaxPrev entries, without repeats or ih itself); ro, next, enc and unknown
// keys are carried on. Next(Record{}, ...) builds a first record.
func Next(prev Record, ih [20]byte, size int64, t time.Time) Record {
	r := Record{
		IH:       ih,
		T:        t.Unix(),
		Size:     size,
		ReadOnly: prev.ReadOnly,
		NextKey:  slices.Clone(prev.NextKey),
		Enc:      prev.Enc,
		Unknown:  maps.Clone(prev.Unknown),
	}
	for _, h := range append([][20]byte{prev.IH}, prev.Prev...) {
		if len(r.Prev) == MaxPrev {
			break
		}
		if h == ([20]byte{}) || h == ih || slices.Contains(r.Prev, h) {
			continue
		}
		r.Prev = append(r.Prev, h)
	}
	return r
}

// Versions returns ih followed by prev: the snapshots a reader may use, newest
// first.
func (r Record) Versions() [][20]byte {
	return append([][20]byte{r.IH}, r.Prev...)
}
