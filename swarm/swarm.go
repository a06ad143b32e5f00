package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/time/rate"

	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/torrentdht"
)

// Errors callers branch on with errors.Is.
var (
	// ErrRefused: the torrent named by the infohash is not an acceptable
	// snapshot (several files, a path, another name, ...); it wraps the
	// snapshot package's reason.
	ErrRefused = errors.New("swarm: torrent refused")
	// ErrBadMetadata: peers sent metadata that does not hash to the
	// infohash (and no good metadata came before the fetch ended).
	ErrBadMetadata = errors.New("swarm: metadata does not hash to the infohash")
	// ErrCheck: the downloaded file is not a sound SQLite database.
	ErrCheck = errors.New("swarm: fetched version failed the check")
	// ErrBusy: a fetch of the same infohash is already running.
	ErrBusy = errors.New("swarm: already fetching this infohash")
	// ErrClosed: the swarm is closed.
	ErrClosed = errors.New("swarm: closed")
)

// Swarm is a node's torrent engine: it seeds the versions it holds and
// fetches new ones by infohash.
type Swarm struct {
	cfg Config
	cl  *torrent.Client
	srv *torrentdht.Server // nil without DHT

	mu       sync.Mutex
	closed   bool
	torrents map[metainfo.Hash]*entry
}

// entry is a torrent the swarm has: seeding, or being fetched.
type entry struct {
	t        *torrent.Torrent
	st       *fileStorage
	path     string
	fetching bool
}

// New starts a torrent client as cfg says.
func New(cfg Config) (*Swarm, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("swarm: data dir: %w", err)
	}
	host, portStr, _ := net.SplitHostPort(cfg.ListenAddr)
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("swarm: config: bad listen port %q", portStr)
	}
	tc := torrent.NewDefaultClientConfig()
	tc.ListenHost = func(string) string { return host }
	if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
		// One family: anacrolix would otherwise also listen on the other.
		tc.DisableIPv6 = a.Is4()
		tc.DisableIPv4 = a.Is6()
	}
	tc.ListenPort = port
	tc.DataDir = cfg.DataDir
	tc.NoDHT = true // ours is added below
	tc.DisableTrackers = true
	tc.DisableWebseeds = true
	tc.DisableWebtorrent = true
	tc.NoDefaultPortForwarding = true
	tc.DisableUTP = !cfg.UTP
	tc.Seed = true
	tc.EstablishedConnsPerTorrent = cfg.MaxPeers
	tc.UploadRateLimiter = limiter(cfg.UploadRate)
	if cfg.DownloadRate > 0 {
		tc.DownloadRateLimiter = limiter(cfg.DownloadRate)
	}
	tc.Slogger = cfg.Logger
	// A storage is given with every torrent; this default only guards
	// against a torrent added without one.
	tc.DefaultStorage = refuseStorage{}
	cl, err := torrent.NewClient(tc)
	if err != nil {
		return nil, fmt.Errorf("swarm: start client: %w", err)
	}
	s := &Swarm{cfg: cfg, cl: cl, torrents: make(map[metainfo.Hash]*entry)}
	if cfg.DHT != nil {
		s.srv, err = torrentdht.New(torrentdht.Config{
			Node:   cfg.DHT,
			Retry:  cfg.DHTRetry,
			Clock:  cfg.Clock,
			Logger: cfg.Logger,
		})
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("swarm: %w", err)
		}
		cl.AddDhtServer(s.srv)
	}
	return s, nil
}

// limiter returns a per-client limiter of n bytes/s (0: unlimited), never
// the package-level one anacrolix shares between clients.
func limiter(n int64) *rate.Limiter {
	if n <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	// anacrolix's default bursts (1 MiB) would let the first megabyte
	// through at once; a quarter second of traffic keeps the limit
	// visible, and at least a 16 KiB chunk fits (uploads reserve a whole
	// chunk at once).
	burst := min(max(n/4, 16<<10), 1<<20)
	return rate.NewLimiter(rate.Limit(n), int(burst))
}

// Close stops seeding and fetching and closes the client.
func (s *Swarm) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	errs := s.cl.Close()
	return errors.Join(errs...)
}

// Addr returns the address peers connect to (TCP).
func (s *Swarm) Addr() netip.AddrPort {
	host, _, _ := net.SplitHostPort(s.cfg.ListenAddr)
	a, err := netip.ParseAddr(host)
	if err != nil || a.IsUnspecified() {
		a = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(a, uint16(s.cl.LocalPort()))
}

// Stats returns the client's totals, such as the bytes read from peers.
func (s *Swarm) Stats() torrent.ClientStats { return s.cl.Stats() }

// Seed serves the version in the file at path, whose info dictionary is
// info (as snapshot.NewInfo made it). The file is trusted to hold exactly
// that version and is not hashed again; it is opened read-only and must
// not change while seeded. Seeding an infohash already seeded does nothing.
func (s *Swarm) Seed(path string, info metainfo.Info) (metainfo.Hash, error) {
	ih, err := snapshot.InfoHash(info)
	if err != nil {
		return ih, fmt.Errorf("swarm: seed: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ih, ErrClosed
	}
	if e, ok := s.torrents[ih]; ok {
		if !e.fetching && e.path != path && sameFile(e.path, path) {
			// Renamed (into a versions store): the open file is the same.
			e.path = path
		}
		return ih, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return ih, fmt.Errorf("swarm: seed: %w", err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != info.Length {
		f.Close()
		return ih, fmt.Errorf("swarm: seed: %s is not %d bytes long", path, info.Length)
	}
	infoBytes, err := snapshot.InfoBytes(info)
	if err != nil {
		f.Close()
		return ih, fmt.Errorf("swarm: seed: %w", err)
	}
	st := seedStorage(ih, info, f)
	t, _ := s.cl.AddTorrentOpt(torrent.AddTorrentOpts{InfoHash: ih, InfoBytes: infoBytes, Storage: st})
	s.torrents[ih] = &entry{t: t, st: st, path: path}
	return ih, nil
}

// Info returns the info dictionary of a torrent the swarm seeds (a fetched
// version included, so its caller need not hash the file again).
func (s *Swarm) Info(ih metainfo.Hash) (metainfo.Info, bool) {
	s.mu.Lock()
	e, ok := s.torrents[ih]
	s.mu.Unlock()
	if !ok || e.fetching {
		return metainfo.Info{}, false
	}
	info := e.t.Info()
	if info == nil {
		return metainfo.Info{}, false
	}
	return *info, true
}

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) bool {
	x, err := os.Stat(a)
	if err != nil {
		// a is gone: renamed to b, most likely; b must exist.
		_, err = os.Stat(b)
		return err == nil
	}
	y, err := os.Stat(b)
	return err == nil && os.SameFile(x, y)
}

// Unseed stops serving infohash and closes its file. The caller may then
// delete the file.
func (s *Swarm) Unseed(ih metainfo.Hash) {
	s.mu.Lock()
	e, ok := s.torrents[ih]
	if ok && !e.fetching {
		delete(s.torrents, ih)
	}
	s.mu.Unlock()
	if ok && !e.fetching {
		e.t.Drop()
	}
}

// Seeding returns the infohashes being seeded, and the path of each.
func (s *Swarm) Seeding() map[metainfo.Hash]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[metainfo.Hash]string, len(s.torrents))
	for ih, e := range s.torrents {
		if !e.fetching {
			out[ih] = e.path
		}
	}
	return out
}

// AddPeers gives the client peers of infohash known by other means than
// the DHT (a test, a libtorrent on a known port).
func (s *Swarm) AddPeers(ih metainfo.Hash, peers []netip.AddrPort) {
	s.mu.Lock()
	e, ok := s.torrents[ih]
	s.mu.Unlock()
	if ok {
		addPeers(e.t, peers)
	}
}

func addPeers(t *torrent.Torrent, peers []netip.AddrPort) {
	pis := make([]torrent.PeerInfo, 0, len(peers))
	for _, p := range peers {
		if p.IsValid() && p.Port() != 0 {
			pis = append(pis, torrent.PeerInfo{Addr: net.TCPAddrFromAddrPort(p), Source: torrent.PeerSourceDirect})
		}
	}
	if len(pis) > 0 {
		t.AddPeers(pis)
	}
}

// refuseStorage is the client's default storage, never meant to be used:
// every torrent is added with a storage of its own.
type refuseStorage struct{}

func (refuseStorage) OpenTorrent(context.Context, *metainfo.Info, metainfo.Hash) (storage.TorrentImpl, error) {
	return storage.TorrentImpl{}, errors.New("swarm: torrent added without storage")
}
