package swarm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"

	"github.com/dhtdb/dhtdb/snapshot"
)

// errNoFile is returned for piece I/O before the file is attached.
var errNoFile = errors.New("swarm: version file not attached yet")

// fileStorage is the anacrolix storage of one version: a single file,
// opened by us (never at a path derived from the metadata), with piece
// completion kept in memory. anacrolix's file storage is avoided because,
// with part files on, it takes a file already at the final name as complete
// without hashing, and its completion database (bolt/sqlite) makes large
// downloads 2 to 3 times slower.
//
// A fetch attaches the file only once the metadata has been validated and
// the pieces of the previous version have been copied in (outside the
// client's lock); until then every piece is reported known and incomplete,
// so anacrolix neither hashes nor requests anything.
type fileStorage struct {
	ih  metainfo.Hash
	exp snapshot.Expect // fetches validate the metadata against it

	// metadata outcome, for Fetch: the info rejected (hard: it hashes to
	// the infohash but breaks the snapshot rules) or bad metadata from a
	// peer (soft: it does not hash to the infohash).
	rejected chan error // buffered 1
	badMeta  chan error // buffered 1

	mu       sync.RWMutex
	info     *metainfo.Info
	f        *os.File
	have     []bool
	failures int // pieces that failed their hash (MarkNotComplete)
}

func newFileStorage(ih metainfo.Hash, exp snapshot.Expect) *fileStorage {
	return &fileStorage{ih: ih, exp: exp, rejected: make(chan error, 1), badMeta: make(chan error, 1)}
}

// seedStorage returns the storage of a complete file that is trusted to
// match info.
func seedStorage(ih metainfo.Hash, info metainfo.Info, f *os.File) *fileStorage {
	s := newFileStorage(ih, snapshot.Expect{})
	s.info = &info
	s.f = f
	s.have = make([]bool, info.NumPieces())
	for i := range s.have {
		s.have[i] = true
	}
	return s
}

func signal(c chan error, err error) {
	select {
	case c <- err:
	default:
	}
}

// OpenTorrent is called by anacrolix when the metadata is known: from the
// peers for a fetch (after its own checks, which in v1.61.0 do not include
// that the bytes hash to the infohash) or from Seed.
func (s *fileStorage) OpenTorrent(_ context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ih != s.ih {
		return storage.TorrentImpl{}, fmt.Errorf("swarm: storage of %s opened for %s", s.ih, ih)
	}
	if s.info == nil {
		// The canonical encoding of what was decoded must hash to the
		// infohash: metadata that does not (a lying peer, or extra keys
		// dropped by the decoder) is refused and asked for again.
		got, err := snapshot.InfoHash(*info)
		if err != nil || got != ih {
			err = fmt.Errorf("%w: got %s", ErrBadMetadata, got)
			signal(s.badMeta, err)
			return storage.TorrentImpl{}, err
		}
		if err := snapshot.ValidateInfo(*info, s.exp); err != nil {
			err = fmt.Errorf("%w: %w", ErrRefused, err)
			signal(s.rejected, err)
			return storage.TorrentImpl{}, err
		}
		s.info = info
		s.have = make([]bool, info.NumPieces())
	}
	return storage.TorrentImpl{Piece: s.piece, Close: s.close}, nil
}

// attach gives a fetch's storage its file and the pieces already in it.
func (s *fileStorage) attach(f *os.File, have []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	copy(s.have, have)
}

func (s *fileStorage) file() *os.File {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f
}

func (s *fileStorage) hashFailures() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.failures
}

func (s *fileStorage) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func (s *fileStorage) piece(p metainfo.Piece) storage.PieceImpl {
	return &piece{s: s, i: p.Index(), off: p.Offset(), n: p.Length()}
}

// piece is one piece of a fileStorage.
type piece struct {
	s   *fileStorage
	i   int
	off int64
	n   int64
}

func (p *piece) ReadAt(b []byte, off int64) (int, error) {
	f := p.s.file()
	if f == nil {
		return 0, errNoFile
	}
	if off < 0 || off+int64(len(b)) > p.n {
		return 0, fmt.Errorf("swarm: read of %d bytes at %d outside piece %d", len(b), off, p.i)
	}
	return f.ReadAt(b, p.off+off)
}

func (p *piece) WriteAt(b []byte, off int64) (int, error) {
	f := p.s.file()
	if f == nil {
		return 0, errNoFile
	}
	if off < 0 || off+int64(len(b)) > p.n {
		return 0, fmt.Errorf("swarm: write of %d bytes at %d outside piece %d", len(b), off, p.i)
	}
	return f.WriteAt(b, p.off+off)
}

func (p *piece) MarkComplete() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.have[p.i] = true
	return nil
}

// MarkNotComplete is called when the piece failed its hash: what a peer
// wrote is discarded (the piece is downloaded again).
func (p *piece) MarkNotComplete() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.have[p.i] = false
	p.s.failures++
	return nil
}

func (p *piece) Completion() storage.Completion {
	p.s.mu.RLock()
	defer p.s.mu.RUnlock()
	if p.i >= len(p.s.have) {
		return storage.Completion{}
	}
	return storage.Completion{Ok: true, Complete: p.s.have[p.i]}
}
