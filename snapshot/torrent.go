package snapshot

import (
	"cmp"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// The piece length rule (see PieceLength and doc.go).
const (
	// MinPieceLength is the BitTorrent block size: a smaller piece would
	// still be requested as one block, and every hash costs 20 bytes of
	// metadata.
	MinPieceLength = 16 << 10
	// MaxPieceLength bounds the rule for very large files.
	MaxPieceLength = 16 << 20
	// TargetMaxPieces is the piece count the rule stays under: 8192
	// hashes are 160 KiB of `pieces`, 10 BEP 9 metadata blocks.
	TargetMaxPieces = 8192
)

// hashBatchBytes is how much of the file one hashing worker reads at a
// time; memory used by HashPieces is about workers × this.
const hashBatchBytes = 1 << 20

// PieceLength is the piece length of a snapshot of length bytes: the
// smallest power of two, at least MinPieceLength, that keeps the piece
// count at or below TargetMaxPieces; MaxPieceLength for files above
// TargetMaxPieces × MaxPieceLength (128 GiB).
//
// It is a pure function of the length, so every machine derives the same
// info dictionary (and infohash) from the same bytes.
func PieceLength(length int64) int64 {
	pl := int64(MinPieceLength)
	for pl < MaxPieceLength && numPieces(length, pl) > TargetMaxPieces {
		pl *= 2
	}
	return pl
}

// numPieces is ceil(length / pieceLength).
func numPieces(length, pieceLength int64) int64 {
	return (length + pieceLength - 1) / pieceLength
}

// NewInfo hashes the file at path and returns its deterministic v1
// single-file info dictionary: name, length, piece length (PieceLength of
// the size) and pieces, nothing else.
func NewInfo(ctx context.Context, path, name string) (metainfo.Info, error) {
	if err := validName(name); err != nil {
		return metainfo.Info{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return metainfo.Info{}, fmt.Errorf("snapshot: info: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return metainfo.Info{}, fmt.Errorf("snapshot: info: %w", err)
	}
	if st.Size() <= 0 {
		return metainfo.Info{}, fmt.Errorf("snapshot: info: %w", ErrEmpty)
	}
	pl := PieceLength(st.Size())
	pieces, err := HashPieces(ctx, f, st.Size(), pl)
	if err != nil {
		return metainfo.Info{}, err
	}
	return metainfo.Info{Name: name, Length: st.Size(), PieceLength: pl, Pieces: pieces}, nil
}

// InfoBytes is the bencoded info dictionary, the bytes the infohash is
// the SHA-1 of and that BEP 9 transfers.
func InfoBytes(info metainfo.Info) ([]byte, error) {
	b, err := bencode.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("snapshot: encode info: %w", err)
	}
	return b, nil
}

// MetaInfo wraps info into a .torrent with no announce list and no
// creation date (both would make the file, not the infohash, differ).
func MetaInfo(info metainfo.Info) (*metainfo.MetaInfo, error) {
	b, err := InfoBytes(info)
	if err != nil {
		return nil, err
	}
	return &metainfo.MetaInfo{InfoBytes: b}, nil
}

// InfoHash is the v1 infohash of info.
func InfoHash(info metainfo.Info) (metainfo.Hash, error) {
	b, err := InfoBytes(info)
	if err != nil {
		return metainfo.Hash{}, err
	}
	return metainfo.HashBytes(b), nil
}

// HashPieces returns the concatenated SHA-1 hashes of the pieces of the
// first length bytes of r. Workers (one per CPU, at most 4) hash
// disjoint batches of about 1 MiB read with ReadAt, so memory stays
// bounded whatever the size. r must support concurrent ReadAt calls
// (an *os.File does).
func HashPieces(ctx context.Context, r io.ReaderAt, length, pieceLength int64) ([]byte, error) {
	if length <= 0 || pieceLength <= 0 {
		return nil, fmt.Errorf("snapshot: hash pieces: %w", ErrEmpty)
	}
	n := numPieces(length, pieceLength)
	out := make([]byte, n*sha1.Size)
	perBatch := max(1, hashBatchBytes/pieceLength)
	batches := (n + perBatch - 1) / perBatch
	workers := int64(min(runtime.GOMAXPROCS(0), 4))
	next := make(chan int64)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	for range min(workers, batches) {
		wg.Go(func() {
			buf := make([]byte, perBatch*pieceLength)
			for b := range next {
				first := b * perBatch
				last := min(first+perBatch, n)
				off := first * pieceLength
				size := min(last*pieceLength, length) - off
				// A ReaderAt may return io.EOF with a full read at the end.
				if got, err := r.ReadAt(buf[:size], off); got < int(size) {
					fail(fmt.Errorf("snapshot: read piece %d: %w", first, cmp.Or(err, io.ErrUnexpectedEOF)))
					return
				}
				for i := first; i < last; i++ {
					lo := (i - first) * pieceLength
					hi := min(lo+pieceLength, size)
					sum := sha1.Sum(buf[lo:hi])
					copy(out[i*sha1.Size:], sum[:])
				}
			}
		})
	}
feed:
	for b := range batches {
		select {
		case next <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("snapshot: hash pieces: %w", err)
	}
	return out, nil
}

// PieceHash returns the SHA-1 of piece i of info (20 bytes).
func PieceHash(info metainfo.Info, i int) []byte {
	return info.Pieces[i*sha1.Size : (i+1)*sha1.Size]
}

// pieceSpan returns the offset and length of piece i.
func pieceSpan(info metainfo.Info, i int) (off, n int64) {
	off = int64(i) * info.PieceLength
	return off, min(info.PieceLength, info.Length-off)
}
