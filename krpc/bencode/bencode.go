package bencode

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// MaxDepth bounds the nesting of lists and dictionaries a decoder accepts, so
// that hostile input cannot exhaust the stack.
const MaxDepth = 32

// ErrSyntax is wrapped by every decoding error.
var ErrSyntax = errors.New("bencode: syntax error")

// Kind is the type of a Value.
type Kind uint8

// The four bencode types.
const (
	String Kind = iota + 1
	Int
	List
	Dict
)

// Value is one decoded bencode value. Byte slices alias the decoded input.
type Value struct {
	Kind Kind
	Str  []byte  // String
	Int  int64   // Int
	List []Value // List
	Dict []Entry // Dict, in wire order
	Raw  []byte  // the verbatim encoding of this value
}

// Entry is one key/value pair of a dictionary.
type Entry struct {
	Key   string
	Value Value
}

// Get returns the value stored under key in a dictionary.
func (v Value) Get(key string) (Value, bool) {
	for _, e := range v.Dict {
		if e.Key == key {
			return e.Value, true
		}
	}
	return Value{}, false
}

// Decode decodes exactly one value filling all of b.
func Decode(b []byte) (Value, error) {
	v, n, err := decode(b, 0, 0)
	if err != nil {
		return Value{}, err
	}
	if n != len(b) {
		return Value{}, fmt.Errorf("%w: %d trailing bytes", ErrSyntax, len(b)-n)
	}
	return v, nil
}

// Check reports whether b is exactly one well-formed bencode value (canonical
// integers, string lengths within bounds, nesting within MaxDepth).
func Check(b []byte) error {
	_, err := Decode(b)
	return err
}

func errAt(pos int, what string) error { return fmt.Errorf("%w at %d: %s", ErrSyntax, pos, what) }

func decode(b []byte, pos, depth int) (Value, int, error) {
	if pos >= len(b) {
		return Value{}, pos, errAt(pos, "unexpected end")
	}
	start := pos
	switch c := b[pos]; {
	case c == 'i':
		end := indexByte(b, pos+1, 'e')
		if end < 0 {
			return Value{}, pos, errAt(pos, "unterminated integer")
		}
		n, err := parseInt(b[pos+1 : end])
		if err != nil {
			return Value{}, pos, errAt(pos, err.Error())
		}
		return Value{Kind: Int, Int: n, Raw: b[start : end+1]}, end + 1, nil
	case c >= '0' && c <= '9':
		s, next, err := decodeString(b, pos)
		if err != nil {
			return Value{}, pos, err
		}
		return Value{Kind: String, Str: s, Raw: b[start:next]}, next, nil
	case c == 'l':
		if depth >= MaxDepth {
			return Value{}, pos, errAt(pos, "nesting too deep")
		}
		pos++
		var list []Value
		for {
			if pos >= len(b) {
				return Value{}, pos, errAt(pos, "unterminated list")
			}
			if b[pos] == 'e' {
				return Value{Kind: List, List: list, Raw: b[start : pos+1]}, pos + 1, nil
			}
			v, next, err := decode(b, pos, depth+1)
			if err != nil {
				return Value{}, pos, err
			}
			list = append(list, v)
			pos = next
		}
	case c == 'd':
		if depth >= MaxDepth {
			return Value{}, pos, errAt(pos, "nesting too deep")
		}
		pos++
		var dict []Entry
		for {
			if pos >= len(b) {
				return Value{}, pos, errAt(pos, "unterminated dictionary")
			}
			if b[pos] == 'e' {
				return Value{Kind: Dict, Dict: dict, Raw: b[start : pos+1]}, pos + 1, nil
			}
			if b[pos] < '0' || b[pos] > '9' {
				return Value{}, pos, errAt(pos, "dictionary key is not a string")
			}
			k, next, err := decodeString(b, pos)
			if err != nil {
				return Value{}, pos, err
			}
			if n := len(dict); n > 0 && dict[n-1].Key >= string(k) {
				return Value{}, pos, errAt(pos, "dictionary keys not sorted or duplicated")
			}
			v, next, err := decode(b, next, depth+1)
			if err != nil {
				return Value{}, pos, err
			}
			dict = append(dict, Entry{Key: string(k), Value: v})
			pos = next
		}
	default:
		return Value{}, pos, errAt(pos, fmt.Sprintf("unexpected byte %q", c))
	}
}

func indexByte(b []byte, from int, c byte) int {
	for i := from; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func decodeString(b []byte, pos int) ([]byte, int, error) {
	colon := indexByte(b, pos, ':')
	if colon < 0 || colon-pos > 10 {
		return nil, pos, errAt(pos, "bad string length")
	}
	digits := b[pos:colon]
	if len(digits) == 0 || (len(digits) > 1 && digits[0] == '0') {
		return nil, pos, errAt(pos, "non-canonical string length")
	}
	n := 0
	for _, d := range digits {
		if d < '0' || d > '9' {
			return nil, pos, errAt(pos, "bad string length")
		}
		n = n*10 + int(d-'0')
	}
	end := colon + 1 + n
	if n > len(b) || end > len(b) {
		return nil, pos, errAt(pos, "string longer than input")
	}
	return b[colon+1 : end], end, nil
}

func parseInt(d []byte) (int64, error) {
	s := string(d)
	if s == "" || s == "-" || s == "-0" || (len(s) > 1 && s[0] == '0') || (len(s) > 2 && s[0] == '-' && s[1] == '0') {
		return 0, errors.New("non-canonical integer")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("bad integer")
	}
	return n, nil
}

// AppendString appends the encoding of the byte string s.
func AppendString(dst []byte, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendInt appends the encoding of the integer n.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

// DictBuilder collects the entries of a dictionary as already encoded values
// and writes them with sorted keys, as bencode requires.
type DictBuilder struct {
	entries []rawEntry
}

type rawEntry struct {
	key string
	raw []byte
}

// Raw adds a value that is already bencoded; it is written verbatim.
func (d *DictBuilder) Raw(key string, raw []byte) { d.entries = append(d.entries, rawEntry{key, raw}) }

// String adds a byte string.
func (d *DictBuilder) String(key string, s []byte) { d.Raw(key, AppendString(nil, s)) }

// Int adds an integer.
func (d *DictBuilder) Int(key string, n int64) { d.Raw(key, AppendInt(nil, n)) }

// AppendTo appends the dictionary to dst.
func (d *DictBuilder) AppendTo(dst []byte) []byte {
	slices.SortFunc(d.entries, func(a, b rawEntry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	dst = append(dst, 'd')
	for _, e := range d.entries {
		dst = AppendString(dst, []byte(e.key))
		dst = append(dst, e.raw...)
	}
	return append(dst, 'e')
}
