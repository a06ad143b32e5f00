package swarm

import (
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/clock"
)

// Phase is the stage a fetch is in.
type Phase int

// The phases of a fetch, in order.
const (
	PhaseMetadata Phase = iota // looking for peers and the info dictionary
	PhaseDownload              // downloading the pieces the base lacks
	PhaseCheck                 // checking the file as SQLite
	PhaseDone                  // fetched and checked
)

func (p Phase) String() string {
	switch p {
	case PhaseMetadata:
		return "metadata"
	case PhaseDownload:
		return "download"
	case PhaseCheck:
		return "check"
	case PhaseDone:
		return "done"
	}
	return "unknown"
}

// Event is a progress report of a fetch.
type Event struct {
	Infohash metainfo.Hash
	Phase    Phase
	// Length is the file's size (0 until the metadata is known).
	Length int64
	// Done is the bytes of the file present and verified, reused ones
	// included; Reused is the part copied from the base version.
	Done, Reused int64
	// Received is every byte read from peers for this torrent: pieces,
	// metadata and protocol overhead.
	Received int64
	// Pieces and PiecesDone count the file's pieces.
	Pieces, PiecesDone int
	// Peers is the number of peers connected.
	Peers int
	// Rate is the bytes per second received since the previous event.
	Rate float64
	// HashFailures counts pieces that failed their hash (their data is
	// discarded and the sender banned); Dropped counts connections closed
	// to banned peers.
	HashFailures, Dropped int
	// Elapsed is the time since the fetch began.
	Elapsed time.Duration
}

// progress builds the events of one fetch.
type progress struct {
	clk      clock.Clock
	ih       metainfo.Hash
	report   func(Event)
	start    time.Time
	last     time.Time
	lastRecv int64
	cur      Phase
	reused   int64
	dropped  int
}

func newProgress(clk clock.Clock, ih metainfo.Hash, report func(Event)) *progress {
	now := clk.Now()
	return &progress{clk: clk, ih: ih, report: report, start: now, last: now}
}

func (p *progress) phase(ph Phase, t *torrent.Torrent, st *fileStorage) {
	p.cur = ph
	p.tick(t, st)
}

func (p *progress) tick(t *torrent.Torrent, st *fileStorage) {
	if p.report == nil {
		return
	}
	p.report(p.event(t, st))
}

func (p *progress) event(t *torrent.Torrent, st *fileStorage) Event {
	now := p.clk.Now()
	ts := t.Stats()
	ev := Event{
		Infohash:     p.ih,
		Phase:        p.cur,
		Reused:       p.reused,
		Received:     ts.BytesRead.Int64(),
		Peers:        ts.ActivePeers,
		HashFailures: st.hashFailures(),
		Dropped:      p.dropped,
		Elapsed:      now.Sub(p.start),
	}
	if info := t.Info(); info != nil {
		ev.Length = info.Length
		ev.Pieces = info.NumPieces()
		ev.PiecesDone = ts.PiecesComplete
		ev.Done = t.BytesCompleted()
	}
	if dt := now.Sub(p.last).Seconds(); dt > 0 {
		ev.Rate = float64(ev.Received-p.lastRecv) / dt
	}
	p.last, p.lastRecv = now, ev.Received
	return ev
}

// ticker delivers a value on c every d of clk, until stop.
type ticker struct {
	c    chan struct{}
	stop func()
}

func newTicker(clk clock.Clock, d time.Duration) *ticker {
	c := make(chan struct{}, 1)
	quit := make(chan struct{})
	var arm func()
	arm = func() {
		clk.AfterFunc(d, func() {
			select {
			case <-quit:
				return
			default:
			}
			select {
			case c <- struct{}{}:
			default:
			}
			arm()
		})
	}
	arm()
	return &ticker{c: c, stop: func() { close(quit) }}
}
