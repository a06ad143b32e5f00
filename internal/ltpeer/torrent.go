package ltpeer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
)

// AddOptions are the options of AddMagnet and AddTorrentFile.
type AddOptions struct {
	// SaveDir is the directory the torrent's file is read from or written
	// to. Required.
	SaveDir string
	// Peers are connected to right away (e.g. the seeder), besides whatever
	// the DHT finds.
	Peers []netip.AddrPort
	// SeedMode trusts the data in SaveDir without hashing it first
	// (libtorrent's seed_mode). Off: libtorrent checks the files.
	SeedMode bool
	// Name is the display name of a magnet download before its metadata
	// arrives; optional.
	Name string
}

// TorrentStatus is a snapshot of libtorrent's torrent_status.
type TorrentStatus struct {
	State       string  // e.g. "downloading_metadata", "downloading", "seeding"
	HasMetadata bool    //
	Seeding     bool    //
	Finished    bool    // all wanted pieces are there
	Progress    float64 // 0..1
	// TotalWanted and TotalWantedDone are bytes of the file (0 until the
	// metadata is known).
	TotalWanted     int64
	TotalWantedDone int64
	// PayloadDownload and PayloadUpload count piece bytes this session;
	// Download and Upload count everything, protocol overhead included.
	PayloadDownload int64
	PayloadUpload   int64
	Download        int64
	Upload          int64
	DownloadRate    int64 // payload bytes/s
	UploadRate      int64 // payload bytes/s
	Peers           int
	Seeds           int
	Pieces          int
	Error           string // libtorrent's error for the torrent, if any
}

// Complete reports whether every wanted byte is there and verified.
func (s TorrentStatus) Complete() bool {
	return s.HasMetadata && (s.Seeding || s.Finished) && s.TotalWantedDone == s.TotalWanted
}

// ErrTorrent is wrapped by WaitComplete when libtorrent reports an error on
// the torrent.
var ErrTorrent = errors.New("ltpeer: torrent error")

// AddMagnet adds a torrent by infohash alone; libtorrent fetches the
// metadata (BEP 9) from opts.Peers or from peers the DHT finds.
func (p *Peer) AddMagnet(ctx context.Context, infohash [20]byte, opts AddOptions) error {
	if opts.SaveDir == "" {
		return errors.New("ltpeer: add magnet: no save dir")
	}
	args := addArgs(opts)
	args["infohash"] = hex.EncodeToString(infohash[:])
	args["name"] = opts.Name
	return p.call(ctx, "add_magnet", args, nil)
}

// AddTorrentFile adds a .torrent file, whose data is (or will be) in
// opts.SaveDir, and returns its v1 infohash. With the data present and
// checked, libtorrent seeds it.
func (p *Peer) AddTorrentFile(ctx context.Context, path string, opts AddOptions) ([20]byte, error) {
	if opts.SaveDir == "" {
		return [20]byte{}, errors.New("ltpeer: add torrent file: no save dir")
	}
	args := addArgs(opts)
	args["path"] = path
	var r struct {
		Infohash hexBytes `json:"infohash"`
	}
	if err := p.call(ctx, "add_torrent_file", args, &r); err != nil {
		return [20]byte{}, err
	}
	return to20(r.Infohash, "infohash")
}

// ConnectPeer asks libtorrent to connect to a peer for the torrent.
func (p *Peer) ConnectPeer(ctx context.Context, infohash [20]byte, addr netip.AddrPort) error {
	return p.call(ctx, "connect_peer", map[string]any{"infohash": hex.EncodeToString(infohash[:]), "addr": addr.String()}, nil)
}

// Status returns the torrent's status.
func (p *Peer) Status(ctx context.Context, infohash [20]byte) (TorrentStatus, error) {
	var r struct {
		State           string  `json:"state"`
		HasMetadata     bool    `json:"has_metadata"`
		Seeding         bool    `json:"seeding"`
		Finished        bool    `json:"finished"`
		Progress        float64 `json:"progress"`
		TotalWanted     int64   `json:"total_wanted"`
		TotalWantedDone int64   `json:"total_wanted_done"`
		PayloadDownload int64   `json:"payload_download"`
		PayloadUpload   int64   `json:"payload_upload"`
		Download        int64   `json:"download"`
		Upload          int64   `json:"upload"`
		DownloadRate    int64   `json:"download_rate"`
		UploadRate      int64   `json:"upload_rate"`
		Peers           int     `json:"peers"`
		Seeds           int     `json:"seeds"`
		Pieces          int     `json:"pieces"`
		Error           string  `json:"error"`
	}
	if err := p.call(ctx, "status", map[string]any{"infohash": hex.EncodeToString(infohash[:])}, &r); err != nil {
		return TorrentStatus{}, err
	}
	return TorrentStatus(r), nil
}

// WaitComplete polls the torrent's status until it is complete, libtorrent
// reports an error on it (ErrTorrent), or ctx ends. It returns the last
// status seen.
func (p *Peer) WaitComplete(ctx context.Context, infohash [20]byte) (TorrentStatus, error) {
	return poll(ctx, func() (TorrentStatus, bool, error) {
		st, err := p.Status(ctx, infohash)
		if err != nil {
			if ctx.Err() != nil {
				return st, false, nil // let poll report the deadline with the last status
			}
			return st, false, err
		}
		if st.Error != "" {
			return st, false, fmt.Errorf("%w: %s", ErrTorrent, st.Error)
		}
		return st, st.Complete(), nil
	}, func(last TorrentStatus) error {
		return fmt.Errorf("ltpeer: torrent %x not complete (state %s, %d of %d bytes, %d peers)",
			infohash, last.State, last.TotalWantedDone, last.TotalWanted, last.Peers)
	})
}

// RemoveTorrent removes the torrent, and its files when deleteFiles is set.
func (p *Peer) RemoveTorrent(ctx context.Context, infohash [20]byte, deleteFiles bool) error {
	return p.call(ctx, "remove", map[string]any{"infohash": hex.EncodeToString(infohash[:]), "delete_files": deleteFiles}, nil)
}

func addArgs(opts AddOptions) map[string]any {
	return map[string]any{
		"save_dir":  opts.SaveDir,
		"peers":     addrStrings(opts.Peers),
		"seed_mode": opts.SeedMode,
	}
}

// GetPeers runs a DHT get_peers lookup (libtorrent's dht_get_peers) and
// returns the peers it found (possibly none).
func (p *Peer) GetPeers(ctx context.Context, infohash [20]byte) ([]netip.AddrPort, error) {
	var r struct {
		Peers []string `json:"peers"`
	}
	if err := p.call(ctx, "get_peers", map[string]any{"infohash": hex.EncodeToString(infohash[:])}, &r); err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, 0, len(r.Peers))
	for _, s := range r.Peers {
		a, err := netip.ParseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("ltpeer: peer address %q: %w", s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ForceAnnounce makes libtorrent announce the torrent on the DHT now
// (announce_peer with its listen port) instead of at its next interval.
// libtorrent announces every torrent it has by itself; the bindings offer no
// announce of a bare infohash.
func (p *Peer) ForceAnnounce(ctx context.Context, infohash [20]byte) error {
	return p.call(ctx, "force_announce", map[string]any{"infohash": hex.EncodeToString(infohash[:])}, nil)
}
