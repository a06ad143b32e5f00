package db

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/syncer"
)

// Role says how a node relates to a database.
type Role string

// Roles.
const (
	RoleOwner    Role = "owner"    // created here; publishes with its key
	RoleFollower Role = "follower" // follows someone's database
)

// stateFormat is the version of state.json.
const stateFormat = 1

// State is the durable state of one database, kept in state.json.
type State struct {
	Format int  `json:"format"`
	Role   Role `json:"role"`
	// Sync is the sync engine's state: highest seq with the signed item
	// held (EncodeItem bytes), its record, the installed version.
	Sync syncer.Persisted `json:"sync"`
	// KeyFile is where the owner's key file is (never the key itself), so
	// that a daemon can publish automatically; empty if not recorded.
	KeyFile string `json:"key_file,omitempty"`
	// Pending is a publish that is signed but not yet known to be stored.
	Pending *Pending `json:"pending,omitempty"`
}

// Pending is a signed publish waiting to be stored in the DHT.
type Pending struct {
	Item    []byte         `json:"item"` // EncodeItem bytes
	Pointer syncer.Pointer `json:"pointer"`
	CAS     int64          `json:"cas"`
	HasCAS  bool           `json:"has_cas"`
	Version Version        `json:"version"`
}

// itemJSON is the stored form of a signed item.
type itemJSON struct {
	K    string `json:"k"`
	Salt []byte `json:"salt"`
	Seq  int64  `json:"seq"`
	Sig  string `json:"sig"`
	V    []byte `json:"v"`
}

// EncodeItem returns the stored form of a mutable item, the bytes the sync
// engine holds and hands back for re-puts.
func EncodeItem(it bep44.Item) []byte {
	b, _ := json.Marshal(itemJSON{K: hex.EncodeToString(it.K[:]), Salt: it.Salt, Seq: it.Seq,
		Sig: hex.EncodeToString(it.Sig[:]), V: it.V})
	return b
}

// DecodeItem parses and verifies the stored form of a mutable item.
func DecodeItem(b []byte) (bep44.Item, error) {
	var j itemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return bep44.Item{}, fmt.Errorf("decode item: %w", err)
	}
	it := bep44.Item{Mutable: true, Salt: j.Salt, Seq: j.Seq, V: j.V}
	if err := decodeHexInto(it.K[:], j.K); err != nil {
		return bep44.Item{}, fmt.Errorf("decode item key: %w", err)
	}
	if err := decodeHexInto(it.Sig[:], j.Sig); err != nil {
		return bep44.Item{}, fmt.Errorf("decode item signature: %w", err)
	}
	if err := it.Verify(); err != nil {
		return bep44.Item{}, fmt.Errorf("decode item: %w", err)
	}
	return it, nil
}

func decodeHexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%d hex digits, want %d", len(s), 2*len(dst))
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

// readState loads state.json from dir.
func readState(dir string) (State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Format != stateFormat {
		return State{}, fmt.Errorf("state format %d, want %d", st.Format, stateFormat)
	}
	if st.Role != RoleOwner && st.Role != RoleFollower {
		return State{}, fmt.Errorf("state: unknown role %q", st.Role)
	}
	return st, nil
}

// writeState replaces state.json in dir atomically.
func writeState(dir string, st State) error {
	st.Format = stateFormat
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), b)
}

// writeFileAtomic writes b to path so that path holds either the old or the
// new content after a crash: temp file, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
