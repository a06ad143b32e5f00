package snapshot

import (
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/metainfo"
)

// ErrBadInfo is returned for an info dictionary whose pieces do not fit
// its length (use ValidateInfo on anything from the network first).
var ErrBadInfo = errors.New("snapshot: inconsistent info dictionary")

// A Copy says that new piece New has the same hash (and length) as old
// piece Old, so its bytes can be copied from the old file.
type Copy struct {
	New, Old int
}

// A Plan is how to build a new version from an old one: the pieces to
// copy from the old file and the pieces to download. Every new piece is
// in exactly one of the two lists, both in increasing order of new index.
type Plan struct {
	Copies []Copy
	Fetch  []int
	// SamePieceLength is false when the two versions have different piece
	// lengths (the size crossed a doubling of the rule): piece hashes then
	// cover different byte ranges and nothing can be reused.
	SamePieceLength bool
}

// FetchBytes is how many bytes of new the plan downloads.
func (p Plan) FetchBytes(new metainfo.Info) int64 {
	var n int64
	for _, i := range p.Fetch {
		_, l := pieceSpan(new, i)
		n += l
	}
	return n
}

// PlanDelta compares the piece lists of two versions. A new piece whose
// hash appears anywhere in old (with the same length) is copied from
// there, so pages SQLite moved are found too; the rest is fetched. No file
// is read: the hashes in the two info dictionaries are all it needs.
func PlanDelta(old, new metainfo.Info) (Plan, error) {
	if err := checkShape(old); err != nil {
		return Plan{}, fmt.Errorf("old: %w", err)
	}
	if err := checkShape(new); err != nil {
		return Plan{}, fmt.Errorf("new: %w", err)
	}
	n := int(numPieces(new.Length, new.PieceLength))
	p := Plan{SamePieceLength: old.PieceLength == new.PieceLength}
	if !p.SamePieceLength {
		p.Fetch = make([]int, n)
		for i := range p.Fetch {
			p.Fetch[i] = i
		}
		return p, nil
	}
	// hash -> first old piece with it. Only full-length old pieces go in;
	// the short last piece is matched separately below.
	oldN := int(numPieces(old.Length, old.PieceLength))
	index := make(map[[sha1.Size]byte]int, oldN)
	for i := oldN - 1; i >= 0; i-- {
		if _, l := pieceSpan(old, i); l == old.PieceLength {
			index[[sha1.Size]byte(PieceHash(old, i))] = i
		}
	}
	oldLast := oldN - 1
	_, oldLastLen := pieceSpan(old, oldLast)
	for i := range n {
		h := [sha1.Size]byte(PieceHash(new, i))
		_, l := pieceSpan(new, i)
		j, ok := index[h]
		if l != new.PieceLength {
			// A short last piece matches only old's short last piece of
			// the same length.
			j, ok = oldLast, l == oldLastLen && h == [sha1.Size]byte(PieceHash(old, oldLast))
		}
		if ok {
			p.Copies = append(p.Copies, Copy{New: i, Old: j})
		} else {
			p.Fetch = append(p.Fetch, i)
		}
	}
	return p, nil
}

// checkShape checks that info's pieces fit its length and piece length.
func checkShape(info metainfo.Info) error {
	if info.Length <= 0 || info.PieceLength <= 0 {
		return fmt.Errorf("%w: length %d, piece length %d", ErrBadInfo, info.Length, info.PieceLength)
	}
	if want := numPieces(info.Length, info.PieceLength) * sha1.Size; int64(len(info.Pieces)) != want {
		return fmt.Errorf("%w: %d bytes of hashes, want %d", ErrBadInfo, len(info.Pieces), want)
	}
	return nil
}
