package versions

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/anacrolix/torrent/bencode"
	"github.com/dhtdb/dhtdb/snapshot"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// manifestName is the file listing a store's versions.
const manifestName = "versions.json"

// tempPattern is snapshot's, so snapshot.RemoveTemp at Open cleans up a
// manifest write cut short too.
const tempPattern = snapshot.TempPattern

type manifest struct {
	Versions []manifestEntry `json:"versions"` // newest first
}

type manifestEntry struct {
	InfoHash string `json:"infohash"` // 40 hex characters
	Seq      int64  `json:"seq"`
	Size     int64  `json:"size"`
	Added    int64  `json:"added"` // Unix seconds
}

// readManifest reads the manifest of dir; a missing one is an empty store.
func readManifest(dir string) ([]Version, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("versions: read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("versions: read manifest: %w", err)
	}
	vs := make([]Version, 0, len(m.Versions))
	for _, e := range m.Versions {
		if !isHashName(e.InfoHash) || e.Seq <= 0 || e.Size < 0 {
			return nil, fmt.Errorf("versions: read manifest: bad entry %+v", e)
		}
		ih := metainfo.NewHashFromHex(e.InfoHash)
		vs = append(vs, Version{InfoHash: ih, Seq: e.Seq, Size: e.Size, Added: time.Unix(e.Added, 0).UTC()})
	}
	return vs, nil
}

// writeManifest replaces dir's manifest atomically and durably.
func writeManifest(dir string, vs []Version) (err error) {
	m := manifest{Versions: make([]manifestEntry, 0, len(vs))}
	for _, v := range vs {
		m.Versions = append(m.Versions, manifestEntry{
			InfoHash: v.InfoHash.HexString(), Seq: v.Seq, Size: v.Size, Added: v.Added.Unix(),
		})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("versions: write manifest: %w", err)
	}
	return writeFileAtomic(dir, filepath.Join(dir, manifestName), append(b, '\n'))
}

// writeFileAtomic replaces path (in dir) with data: temp file, fsync,
// rename, fsync dir.
func writeFileAtomic(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return fmt.Errorf("versions: write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("versions: write %s: %w", filepath.Base(path), err)
	}
	return syncDir(dir)
}

// infoSuffix names the file beside a version holding its bencoded info.
const infoSuffix = ".info"

// versionFile reports whether name is a version's file or its info file,
// and returns the infohash hex it belongs to.
func versionFile(name string) (string, bool) {
	base := strings.TrimSuffix(name, infoSuffix)
	return base, isHashName(base)
}

// readInfo reads a version's info file and checks it hashes to ih.
func readInfo(path string, ih metainfo.Hash) (metainfo.Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return metainfo.Info{}, err
	}
	if metainfo.HashBytes(b) != ih {
		return metainfo.Info{}, fmt.Errorf("versions: %s does not hash to its name", path)
	}
	var info metainfo.Info
	if err := bencode.Unmarshal(b, &info); err != nil {
		return metainfo.Info{}, fmt.Errorf("versions: %s: %w", path, err)
	}
	return info, nil
}

// isHashName reports whether name is 40 lower-case hex characters.
func isHashName(name string) bool {
	if len(name) != 40 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && lowerHex(name)
}

func lowerHex(s string) bool {
	for _, c := range s {
		if c >= 'A' && c <= 'F' {
			return false
		}
	}
	return true
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("versions: sync: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("versions: sync: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("versions: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("versions: sync dir: %w", err)
	}
	return nil
}
