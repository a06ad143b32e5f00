package snapshot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anacrolix/torrent/metainfo"
)

// An Assembly is a new version's file under construction: the pieces the
// old version had are in place, the others are to be downloaded into it.
type Assembly struct {
	// Path is the file, a temporary name in the chosen directory, sized
	// to the new length. The caller renames it (Store.Add, Swap) or
	// removes it.
	Path string
	// Have[i] is true when piece i is in the file and verified.
	Have []bool
	// Missing lists the pieces to download, in order: the plan's Fetch
	// plus any copy that failed verification.
	Missing []int
	// Corrupt lists the pieces whose copy from the old file did not match
	// its hash (a damaged local copy); they are in Missing too.
	Corrupt []int
	// CopiedBytes is how many bytes were reused from the old file.
	CopiedBytes int64
}

// Assemble creates the file of version new beside oldPath (in dir, or
// in oldPath's directory when dir is ""), copies into it every piece plan
// says old has, and reports which pieces are still missing. oldPath is
// opened read-only and never modified.
//
// Each copied piece is hashed and compared with new's hash before it
// counts as present: the old file is local data that may have been
// damaged since it was verified, the check costs a SHA-1 of what is read
// anyway, and a bad piece simply joins Missing.
func Assemble(ctx context.Context, oldPath string, old, new metainfo.Info, plan Plan, dir string) (_ *Assembly, err error) {
	if err := checkShape(old); err != nil {
		return nil, fmt.Errorf("snapshot: assemble: old: %w", err)
	}
	if err := checkShape(new); err != nil {
		return nil, fmt.Errorf("snapshot: assemble: new: %w", err)
	}
	if dir == "" {
		dir = filepath.Dir(oldPath)
	}
	src, err := os.Open(oldPath)
	if err != nil {
		return nil, fmt.Errorf("snapshot: assemble: %w", err)
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, TempPattern)
	if err != nil {
		return nil, fmt.Errorf("snapshot: assemble: %w", err)
	}
	defer func() {
		if cerr := dst.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("snapshot: assemble: %w", cerr)
		}
		if err != nil {
			os.Remove(dst.Name())
		}
	}()
	if err := dst.Truncate(new.Length); err != nil {
		return nil, fmt.Errorf("snapshot: assemble: %w", err)
	}
	n := int(numPieces(new.Length, new.PieceLength))
	a := &Assembly{Path: dst.Name(), Have: make([]bool, n)}
	buf := make([]byte, new.PieceLength)
	for _, c := range plan.Copies {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("snapshot: assemble: %w", err)
		}
		if c.New < 0 || c.New >= n || c.Old < 0 || c.Old >= old.NumPieces() {
			return nil, fmt.Errorf("snapshot: assemble: %w: copy %d <- %d out of range", ErrBadInfo, c.New, c.Old)
		}
		newOff, l := pieceSpan(new, c.New)
		oldOff, oldL := pieceSpan(old, c.Old)
		if l != oldL {
			return nil, fmt.Errorf("snapshot: assemble: %w: copy %d <- %d lengths differ", ErrBadInfo, c.New, c.Old)
		}
		// A failed or short read is as bad as a wrong hash: fetch it.
		got, _ := src.ReadAt(buf[:l], oldOff)
		sum := sha1.Sum(buf[:l])
		if int64(got) < l || !bytes.Equal(sum[:], PieceHash(new, c.New)) {
			a.Corrupt = append(a.Corrupt, c.New)
			continue
		}
		if _, err := dst.WriteAt(buf[:l], newOff); err != nil {
			return nil, fmt.Errorf("snapshot: assemble: write piece %d: %w", c.New, err)
		}
		a.Have[c.New] = true
		a.CopiedBytes += l
	}
	for i := range n {
		if !a.Have[i] {
			a.Missing = append(a.Missing, i)
		}
	}
	return a, nil
}

// VerifyFile hashes the file at path and returns the indexes of the pieces
// of info it does not match (none: the file is exactly that version).
func VerifyFile(ctx context.Context, path string, info metainfo.Info) ([]int, error) {
	if err := checkShape(info); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: verify: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("snapshot: verify: %w", err)
	}
	if st.Size() != info.Length {
		return nil, fmt.Errorf("snapshot: verify: %w: file is %d bytes, want %d", ErrPieces, st.Size(), info.Length)
	}
	sums, err := HashPieces(ctx, f, info.Length, info.PieceLength)
	if err != nil {
		return nil, err
	}
	var bad []int
	for i := range info.NumPieces() {
		if !bytes.Equal(sums[i*sha1.Size:(i+1)*sha1.Size], PieceHash(info, i)) {
			bad = append(bad, i)
		}
	}
	return bad, nil
}
