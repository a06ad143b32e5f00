package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/snapshot"
)

// Version is a version held locally: its file and info dictionary.
type Version struct {
	Path string
	Info metainfo.Info
}

// FetchOptions says what a fetch expects and how it reports.
type FetchOptions struct {
	// Name is the torrent name the snapshot must carry. Required.
	Name string
	// MaxLength caps the snapshot's length. 0: snapshot.DefaultMaxLength.
	MaxLength int64
	// Base is the version held so far: every piece of the new version
	// whose hash it has too is copied from it instead of downloaded. Its
	// file is only read. nil: download everything.
	Base *Version
	// Dir is where the new file is made. "": Base's directory, or the
	// swarm's DataDir without a Base.
	Dir string
	// Peers are tried besides those the DHT finds.
	Peers []netip.AddrPort
	// Progress, when set, receives events from the fetching goroutine
	// every Config.ProgressInterval and at each phase change. It must
	// return quickly.
	Progress func(Event)
}

// Fetch downloads the version named by ih: it finds peers through the DHT
// (and opts.Peers), gets the metadata from them by BEP 9, refuses a torrent
// that is not a snapshot named opts.Name, copies the pieces opts.Base
// already has into a new file beside it, downloads the rest, and checks
// the result as SQLite (PRAGMA quick_check). It returns the path of the new
// file, which stays seeded (see Rename and Unseed); on error nothing is
// left behind.
//
// A version already seeded is returned at once.
func (s *Swarm) Fetch(ctx context.Context, ih metainfo.Hash, opts FetchOptions) (string, error) {
	if opts.Name == "" {
		return "", errors.New("swarm: fetch: no expected name")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", ErrClosed
	}
	if e, ok := s.torrents[ih]; ok {
		s.mu.Unlock()
		if e.fetching {
			return "", ErrBusy
		}
		return e.path, nil
	}
	st := newFileStorage(ih, snapshot.Expect{Name: opts.Name, MaxLength: opts.MaxLength})
	t, _ := s.cl.AddTorrentOpt(torrent.AddTorrentOpts{
		InfoHash:             ih,
		Storage:              st,
		DisallowDataDownload: true, // until the base pieces are in
	})
	e := &entry{t: t, st: st, fetching: true}
	s.torrents[ih] = e
	s.mu.Unlock()

	f := &fetch{s: s, ih: ih, opts: opts, e: e, prog: newProgress(s.cfg.Clock, ih, opts.Progress)}
	path, err := f.run(ctx)
	if err != nil {
		s.mu.Lock()
		delete(s.torrents, ih)
		s.mu.Unlock()
		t.Drop()
		if f.path != "" {
			os.Remove(f.path)
		}
		return "", fmt.Errorf("swarm: fetch %s: %w", ih.HexString(), err)
	}
	s.mu.Lock()
	e.fetching, e.path = false, path
	s.mu.Unlock()
	return path, nil
}

// fetch is one run of Fetch.
type fetch struct {
	s    *Swarm
	ih   metainfo.Hash
	opts FetchOptions
	e    *entry
	prog *progress
	path string // the new file, once made
}

func (f *fetch) run(ctx context.Context) (string, error) {
	t := f.e.t
	addPeers(t, f.opts.Peers)
	tick := newTicker(f.s.cfg.Clock, f.s.cfg.ProgressInterval)
	defer tick.stop()
	search := newStallSearch(f.s.cfg.DHT, f.ih, f.s.cfg.DHTRetry, f.s.cfg.Clock.Now())

	// 1. Metadata, by BEP 9.
	f.prog.phase(PhaseMetadata, t, f.e.st)
	var badMeta error
	for waiting := true; waiting; {
		select {
		case <-t.GotInfo():
			waiting = false
		case err := <-f.e.st.rejected:
			return "", err
		case err := <-f.e.st.badMeta:
			badMeta = err // a lying peer; others may still send the right one
		case <-tick.c:
			search.tick(ctx, t, f.s.cfg.Clock.Now())
			f.prog.tick(t, f.e.st)
		case peers := <-search.found:
			search.got(t, peers)
		case <-t.Closed():
			return "", ErrClosed
		case <-ctx.Done():
			if badMeta != nil {
				return "", fmt.Errorf("%w (%w)", badMeta, context.Cause(ctx))
			}
			return "", fmt.Errorf("no metadata: %w", context.Cause(ctx))
		}
	}
	info := *t.Info()

	// 2. The new file, with what the base version already has.
	have, err := f.prepare(ctx, info)
	if err != nil {
		return "", err
	}
	file, err := os.OpenFile(f.path, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	f.e.st.attach(file, have)
	for i, h := range have {
		if h {
			t.Piece(i).UpdateCompletion()
		}
	}
	t.AllowDataDownload()
	t.DownloadAll()

	// 3. The rest, from peers.
	f.prog.phase(PhaseDownload, t, f.e.st)
	for done := false; !done; {
		select {
		case <-t.Complete().On():
			done = true
		case <-tick.c:
			f.dropBanned(t)
			search.tick(ctx, t, f.s.cfg.Clock.Now())
			f.prog.tick(t, f.e.st)
		case peers := <-search.found:
			search.got(t, peers)
		case <-t.Closed():
			return "", ErrClosed
		case <-ctx.Done():
			return "", fmt.Errorf("download: %w", context.Cause(ctx))
		}
	}

	// 4. Check before handing it back.
	f.prog.phase(PhaseCheck, t, f.e.st)
	if err := file.Sync(); err != nil {
		return "", err
	}
	if err := snapshot.Check(ctx, f.path); err != nil {
		return "", fmt.Errorf("%w: %w", ErrCheck, err)
	}
	f.prog.phase(PhaseDone, t, f.e.st)
	return f.path, nil
}

// prepare makes the new file in the fetch's directory and copies into it
// the pieces the base version has. It returns which pieces are present.
func (f *fetch) prepare(ctx context.Context, info metainfo.Info) ([]bool, error) {
	dir := f.opts.Dir
	if dir == "" && f.opts.Base != nil {
		dir = filepath.Dir(f.opts.Base.Path)
	}
	if dir == "" {
		dir = f.s.cfg.DataDir
	}
	if b := f.opts.Base; b != nil {
		plan, err := snapshot.PlanDelta(b.Info, info)
		if err == nil {
			a, err := snapshot.Assemble(ctx, b.Path, b.Info, info, plan, dir)
			if err != nil {
				return nil, fmt.Errorf("assemble: %w", err)
			}
			f.path = a.Path
			f.prog.reused = a.CopiedBytes
			return a.Have, nil
		}
		// A base whose info is inconsistent is no base: fetch it all.
		f.s.cfg.Logger.Warn("swarm: unusable base version", "path", b.Path, "err", err)
	}
	tmp, err := os.CreateTemp(dir, ".dhtdb-tmp-*")
	if err != nil {
		return nil, err
	}
	f.path = tmp.Name()
	err = tmp.Truncate(info.Length)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return make([]bool, info.NumPieces()), nil
}

// dropBanned closes connections to peers anacrolix has banned for sending
// bad data: it bans the address when a piece fails its hash but does not
// always close the connection that sent it.
func (f *fetch) dropBanned(t *torrent.Torrent) {
	bad := f.s.cl.BadPeerIPs()
	if len(bad) == 0 {
		return
	}
	banned := make(map[netip.Addr]bool, len(bad))
	for _, ip := range bad {
		if a, err := netip.ParseAddr(ip); err == nil {
			banned[a.Unmap()] = true
		}
	}
	for _, pc := range t.PeerConns() {
		host, _, err := net.SplitHostPort(pc.RemoteAddr.String())
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && banned[a.Unmap()] {
			pc.Close()
			f.prog.dropped++
		}
	}
}
