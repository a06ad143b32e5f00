package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/syncer"
)

// The post-mortem checks of the crash test: what a killed daemon left in
// its data directory, looked at while no process runs on it.

// crashDBDir is the directory of the database named name in a data
// directory (the layout of package db: dbs/<hex key>/<hex name>).
func crashDBDir(dataDir string, a record.Address) string {
	return filepath.Join(dataDir, "dbs", hex.EncodeToString(a.PublicKey[:]), hex.EncodeToString([]byte(a.Name)))
}

// crashState reads a database's state.json.
func crashState(dbDir string) (db.State, error) {
	var st db.State
	b, err := os.ReadFile(filepath.Join(dbDir, "state.json"))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("state.json: %w", err)
	}
	return st, nil
}

// crashManifestEntry is one version listed in versions/versions.json.
type crashManifestEntry struct {
	InfoHash string `json:"infohash"`
	Seq      int64  `json:"seq"`
	Size     int64  `json:"size"`
}

func crashManifest(dbDir string) ([]crashManifestEntry, error) {
	b, err := os.ReadFile(filepath.Join(dbDir, "versions", "versions.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m struct {
		Versions []crashManifestEntry `json:"versions"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("versions.json: %w", err)
	}
	return m.Versions, nil
}

// crashCheckData checks the data directory of a dead process: every SQLite
// file in it (working copy, write journal, versions; not the temporary
// files of work cut short, which the next start ignores or removes) opens,
// after the recovery SQLite does at open, and passes PRAGMA quick_check —
// on a copy, so the restart sees what the crash left; the database's
// state.json parses; every version its manifest lists has the infohash it
// is filed under. It returns the problems and the number of files checked.
func crashCheckData(ctx context.Context, dataDir string, a record.Address) ([]string, int) {
	var probs []string
	n := 0
	err := filepath.WalkDir(dataDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		base := e.Name()
		if strings.HasPrefix(base, strings.TrimSuffix(snapshot.TempPattern, "*")) ||
			strings.HasSuffix(base, "-wal") || strings.HasSuffix(base, "-shm") || strings.HasSuffix(base, "-journal") {
			return nil
		}
		if !crashIsSQLite(path) {
			return nil
		}
		n++
		if err := crashQuickCheck(path); err != nil {
			rel, _ := filepath.Rel(dataDir, path)
			probs = append(probs, fmt.Sprintf("%s: %v", rel, err))
		}
		return nil
	})
	if err != nil {
		probs = append(probs, err.Error())
	}
	dbDir := crashDBDir(dataDir, a)
	if _, err := crashState(dbDir); err != nil {
		probs = append(probs, err.Error())
	}
	vs, err := crashManifest(dbDir)
	if err != nil {
		probs = append(probs, err.Error())
	}
	for _, v := range vs {
		path := filepath.Join(dbDir, "versions", v.InfoHash)
		if err := snapshot.Check(ctx, path); err != nil {
			probs = append(probs, fmt.Sprintf("version %s (seq %d): %v", v.InfoHash, v.Seq, err))
			continue
		}
		ih, err := crashInfoHash(ctx, path, a.Name)
		if err != nil || ih.String() != v.InfoHash {
			probs = append(probs, fmt.Sprintf("version %s (seq %d): content hashes to %s (%v)", v.InfoHash, v.Seq, ih, err))
		}
	}
	return probs, n
}

// crashIsSQLite: the file starts with the SQLite header.
func crashIsSQLite(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [16]byte
	_, err = io.ReadFull(f, h[:])
	return err == nil && string(h[:]) == "SQLite format 3\x00"
}

// crashInfoHash is the infohash of the snapshot torrent of the file at
// path, for the database called name.
func crashInfoHash(ctx context.Context, path, name string) (syncer.Hash, error) {
	info, err := snapshot.NewInfo(ctx, path, db.TorrentName(name))
	if err != nil {
		return syncer.Hash{}, err
	}
	ih, err := snapshot.InfoHash(info)
	return syncer.Hash(ih), err
}

// crashQuickCheck copies a SQLite file with its WAL or rollback journal
// (what a crash leaves) to a temporary directory, opens the copy as the
// restarted process would (SQLite replays the WAL or rolls back the
// journal) and runs PRAGMA quick_check.
func crashQuickCheck(path string) error {
	tmp, err := os.MkdirTemp("", "dhtdb-crash-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "db.sqlite")
	for _, suffix := range []string{"", "-wal", "-journal"} {
		if err := crashCopy(path+suffix, cp+suffix); err != nil && !(suffix != "" && errors.Is(err, fs.ErrNotExist)) {
			return err
		}
	}
	c, err := sqlite.OpenConn(cp, sqlite.OpenReadWrite)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer c.Close()
	var msgs []string
	err = sqlitex.ExecuteTransient(c, "PRAGMA quick_check", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { msgs = append(msgs, s.ColumnText(0)); return nil },
	})
	if err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		return fmt.Errorf("quick_check: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func crashCopy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// crashTemps lists the temporary files (snapshot.TempPattern) in dir: work
// a process was doing when it died (snapshots, assemblies, installs).
func crashTemps(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, snapshot.TempPattern))
	return m
}

// crashSigned decodes a held signed item (db.EncodeItem bytes, signature
// verified) into the versions it names: its ih at its seq, and prev[i] at
// seq-1-i.
func crashSigned(item []byte, pub [32]byte) (map[syncer.Hash]int64, error) {
	it, err := db.DecodeItem(item)
	if err != nil {
		return nil, err
	}
	if it.K != pub {
		return nil, errors.New("signed by another key")
	}
	rec, err := record.Decode(it.V)
	if err != nil {
		return nil, err
	}
	out := map[syncer.Hash]int64{syncer.Hash(rec.IH): it.Seq}
	for i, p := range rec.Prev {
		out[syncer.Hash(p)] = it.Seq - 1 - int64(i)
	}
	return out, nil
}
