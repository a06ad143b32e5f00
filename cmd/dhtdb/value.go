package main

import (
	"encoding/hex"
	"strconv"
	"unicode/utf8"

	"github.com/dhtdb/dhtdb/record"
)

// bencodeString returns s as a bencoded byte string: how VALUE arguments are
// stored.
func bencodeString(s string) []byte {
	return append(strconv.AppendInt(nil, int64(len(s)), 10), ":"+s...)
}

// shownValue is a stored value as the get command shows it.
type shownValue struct {
	Value  *string        `json:"value,omitempty"`  // v is a bencoded UTF-8 string: its text
	VHex   string         `json:"v_hex"`            // the verbatim bencoded v, in hex
	Record *record.Record `json:"record,omitempty"` // v is a dhtdb pointer record
}

func showValue(v []byte) shownValue {
	sv := shownValue{VHex: hex.EncodeToString(v)}
	if s, ok := parseBencodeString(v); ok && utf8.ValidString(s) {
		sv.Value = &s
	}
	if r, err := record.Decode(v); err == nil {
		sv.Record = &r
	}
	return sv
}

// parseBencodeString decodes v when it is exactly one bencoded string.
func parseBencodeString(v []byte) (string, bool) {
	for i, c := range v {
		if c == ':' {
			n, err := strconv.Atoi(string(v[:i]))
			if err != nil || n < 0 || (i > 1 && v[0] == '0') || len(v)-i-1 != n {
				return "", false
			}
			return string(v[i+1:]), true
		}
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return "", false
}

// text is the one-line form of the value: the string, or the raw bencoding.
func (sv shownValue) text() string {
	if sv.Value != nil {
		return *sv.Value
	}
	b, _ := hex.DecodeString(sv.VHex)
	if utf8.Valid(b) {
		return string(b)
	}
	return "hex:" + sv.VHex
}
