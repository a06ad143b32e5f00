package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The changeset format is SQLite's (sqlite3session.h, "Changeset Format").
// It is parsed here, instead of through sqlite.ChangesetIterator, because the
// iterator cannot tell an undefined value (a column an UPDATE did not change)
// from NULL, and the merge rule needs exactly that.

// Operation codes of a change.
const (
	opInsert = 18
	opDelete = 9
	opUpdate = 23
)

// errChangeset: bytes that are not a changeset as SQLite writes it.
var errChangeset = errors.New("journal: malformed changeset")

// value is one value of a changeset record.
type value struct {
	Defined bool
	V       any // nil, int64, float64, string or []byte
}

// change is one row change.
type change struct {
	Table string
	PK    []bool // per column: part of the primary key
	Op    int
	Old   []value // delete and update
	New   []value // insert and update
}

// key returns the primary key values of the row the change is about.
func (c change) key() []any {
	var k []any
	for i, pk := range c.PK {
		if !pk {
			continue
		}
		switch {
		case c.Op != opInsert && c.Old[i].Defined:
			k = append(k, c.Old[i].V)
		case c.New != nil && c.New[i].Defined:
			k = append(k, c.New[i].V)
		default:
			k = append(k, nil)
		}
	}
	return k
}

// parseChangeset decodes a changeset.
func parseChangeset(b []byte) ([]change, error) {
	var out []change
	var table string
	var pk []bool
	for len(b) > 0 {
		switch b[0] {
		case 'T':
			b = b[1:]
			n, w := getVarint(b)
			if w == 0 || n == 0 || n > 32767 || uint64(len(b)-w) < n {
				return nil, fmt.Errorf("%w: table header", errChangeset)
			}
			b = b[w:]
			pk = make([]bool, n)
			for i := range pk {
				pk[i] = b[i] != 0
			}
			b = b[n:]
			end := bytes.IndexByte(b, 0)
			if end < 0 {
				return nil, fmt.Errorf("%w: table name", errChangeset)
			}
			table, b = string(b[:end]), b[end+1:]
		case opInsert, opDelete, opUpdate:
			if pk == nil || len(b) < 2 {
				return nil, fmt.Errorf("%w: change before table header", errChangeset)
			}
			c := change{Table: table, PK: pk, Op: int(b[0])}
			b = b[2:]
			var err error
			if c.Op != opInsert {
				if c.Old, b, err = parseRecord(b, len(pk)); err != nil {
					return nil, err
				}
			}
			if c.Op != opDelete {
				if c.New, b, err = parseRecord(b, len(pk)); err != nil {
					return nil, err
				}
			}
			out = append(out, c)
		default:
			return nil, fmt.Errorf("%w: record type %d", errChangeset, b[0])
		}
	}
	return out, nil
}

func parseRecord(b []byte, n int) ([]value, []byte, error) {
	rec := make([]value, n)
	for i := range rec {
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: short record", errChangeset)
		}
		t := b[0]
		b = b[1:]
		switch t {
		case 0:
		case 5:
			rec[i] = value{Defined: true}
		case 1, 2:
			if len(b) < 8 {
				return nil, nil, fmt.Errorf("%w: short number", errChangeset)
			}
			u := binary.BigEndian.Uint64(b)
			b = b[8:]
			if t == 1 {
				rec[i] = value{Defined: true, V: int64(u)}
			} else {
				rec[i] = value{Defined: true, V: math.Float64frombits(u)}
			}
		case 3, 4:
			l, w := getVarint(b)
			if w == 0 || uint64(len(b)-w) < l {
				return nil, nil, fmt.Errorf("%w: short text", errChangeset)
			}
			s := b[w : w+int(l)]
			b = b[w+int(l):]
			if t == 3 {
				rec[i] = value{Defined: true, V: string(s)}
			} else {
				rec[i] = value{Defined: true, V: bytes.Clone(s)}
			}
		default:
			return nil, nil, fmt.Errorf("%w: value type %d", errChangeset, t)
		}
	}
	return rec, b, nil
}

// getVarint decodes SQLite's varint (big-endian groups of 7 bits, the 9th
// byte whole); w is 0 when b is too short.
func getVarint(b []byte) (v uint64, w int) {
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0
		}
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// encodeKey is the canonical bytes of a primary key: per value a type tag
// and its bytes. Equal keys give equal bytes on every machine.
func encodeKey(k []any) []byte {
	var b []byte
	for _, v := range k {
		switch v := v.(type) {
		case nil:
			b = append(b, 5)
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 1), uint64(v))
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 2), math.Float64bits(v))
		case string:
			b = binary.AppendUvarint(append(b, 3), uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.AppendUvarint(append(b, 4), uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

// equalValue reports whether two values are the same SQLite value.
func equalValue(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	default:
		return a == b
	}
}
