package record

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/anacrolix/torrent/bencode"
)

// jsonRecord is the JSON form of a Record: hashes and keys in hex, unknown
// keys as the hex of their verbatim bencoded values.
type jsonRecord struct {
	IH       string            `json:"ih"`
	Prev     []string          `json:"prev,omitempty"`
	T        int64             `json:"t"`
	Size     int64             `json:"size"`
	ReadOnly bool              `json:"ro,omitempty"`
	NextKey  string            `json:"next,omitempty"`
	Enc      string            `json:"enc,omitempty"`
	Unknown  map[string]string `json:"unknown,omitempty"`
}

// MarshalJSON writes the JSON form used by the CLI's --json output.
func (r Record) MarshalJSON() ([]byte, error) {
	j := jsonRecord{
		IH:       hex.EncodeToString(r.IH[:]),
		T:        r.T,
		Size:     r.Size,
		ReadOnly: r.ReadOnly,
		NextKey:  hex.EncodeToString(r.NextKey),
		Enc:      r.Enc,
	}
	for _, p := range r.Prev {
		j.Prev = append(j.Prev, hex.EncodeToString(p[:]))
	}
	if len(r.Unknown) > 0 {
		j.Unknown = make(map[string]string, len(r.Unknown))
		for k, v := range r.Unknown {
			j.Unknown[k] = hex.EncodeToString(v)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes. It checks lengths, not the
// whole record: Encode does that.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j jsonRecord
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var out Record
	if err := decodeHex(out.IH[:], "ih", j.IH); err != nil {
		return err
	}
	for _, p := range j.Prev {
		var h [20]byte
		if err := decodeHex(h[:], "prev", p); err != nil {
			return err
		}
		out.Prev = append(out.Prev, h)
	}
	out.T, out.Size, out.ReadOnly, out.Enc = j.T, j.Size, j.ReadOnly, j.Enc
	if j.NextKey != "" {
		var k [32]byte
		if err := decodeHex(k[:], "next", j.NextKey); err != nil {
			return err
		}
		out.NextKey = k[:]
	}
	for k, v := range j.Unknown {
		raw, err := hex.DecodeString(v)
		if err != nil {
			return fmt.Errorf("record json: unknown key %q: %w", k, err)
		}
		if out.Unknown == nil {
			out.Unknown = make(map[string]bencode.Bytes)
		}
		out.Unknown[k] = raw
	}
	*r = out
	return nil
}

func decodeHex(dst []byte, field, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("record json: %s must be %d hex characters", field, 2*len(dst))
	}
	copy(dst, b)
	return nil
}
