package daemon

import (
	"slices"
	"time"

	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/syncer"
)

// Status is the sync state of one database, for `dhtdb status` and the API.
type Status struct {
	Address  string  `json:"address"`
	Magnet   string  `json:"magnet"`
	Role     db.Role `json:"role"`
	Seq      int64   `json:"seq"`                 // highest pointer seq held
	IH       string  `json:"ih,omitempty"`        // its snapshot
	Current  string  `json:"current,omitempty"`   // the version installed locally
	Behind   int     `json:"versions_behind"`     // versions between Current and IH (5: unknown, more)
	ReadOnly bool    `json:"read_only,omitempty"` // the owner locked it
	MovedTo  string  `json:"moved_to,omitempty"`  // new owner key after a rotation

	Fetching []string `json:"fetching,omitempty"`
	// Fetch is the newest progress report of a running fetch.
	Fetch         *FetchProgress `json:"fetch,omitempty"`
	LastPoll      time.Time      `json:"last_poll,omitzero"`
	LastFound     int            `json:"last_found"` // closest nodes holding the pointer at the last poll
	LastPollErr   string         `json:"last_poll_error,omitempty"`
	LastPut       time.Time      `json:"last_put,omitzero"`
	LastPutStored int            `json:"last_put_stored"`
	LastPutErr    string         `json:"last_put_error,omitempty"`
	PublishErr    string         `json:"publish_error,omitempty"`
	// PendingWrites counts journaled writes not yet in a confirmed
	// published version (databases with a write journal).
	PendingWrites int `json:"pending_writes,omitempty"`
	// LastConflicts are the same-row conflicts of the last publish or
	// catch-up that involved this writer.
	LastConflicts []journal.Conflict `json:"last_conflicts,omitempty"`
	LastNotice    string             `json:"last_event,omitempty"`
}

// StatusOf is the status of d from its saved state alone, for commands that
// run without a daemon (no poll or put fields).
func StatusOf(d *db.DB) Status { return newStatus(d) }

// FetchProgress is the progress of a running fetch of a version (from
// swarm.Event).
type FetchProgress struct {
	IH          string  `json:"ih"`
	Phase       string  `json:"phase"`       // metadata, download, check, done
	BytesDone   int64   `json:"bytes_done"`  // present and verified, reused included
	BytesTotal  int64   `json:"bytes_total"` // 0 until the metadata is known
	PiecesDone  int     `json:"pieces_done"`
	PiecesTotal int     `json:"pieces_total"`
	Peers       int     `json:"peers"`
	RateBps     float64 `json:"rate_bps"`
	ReusedBytes int64   `json:"reused_bytes"`   // copied from the base version (delta)
	Received    int64   `json:"received_bytes"` // read from peers, overhead included
	ElapsedMS   int64   `json:"elapsed_ms"`
}

func newStatus(d *db.DB) Status {
	st := d.State()
	s := Status{Address: d.Address().String(), Magnet: d.Address().Magnet(), Role: st.Role}
	s.fromState(st.Sync)
	return s
}

func (s *Status) fromState(p syncer.Persisted) {
	s.Seq = p.Seq
	s.IH, s.Current = "", ""
	if p.Item != nil {
		s.IH = p.Pointer.IH.String()
	}
	if p.HasCurrent {
		s.Current = p.Current.String()
	}
	s.ReadOnly = p.Pointer.RO
	s.Behind = behind(p)
}

// behind counts the versions between the installed one and the newest.
func behind(p syncer.Persisted) int {
	if p.Item == nil {
		return 0
	}
	if !p.HasCurrent {
		return 1 + len(p.Pointer.Prev)
	}
	i := slices.Index(append([]syncer.Hash{p.Pointer.IH}, p.Pointer.Prev...), p.Current)
	if i < 0 {
		return 1 + syncer.MaxPrev
	}
	return i
}

func (s *Status) note(n syncer.Notice) {
	s.LastNotice = n.Kind.String()
	if n.Kind == syncer.NoticeMoved {
		s.MovedTo = hexString(n.Key)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func (l *loop) setStatus(f func(*Status)) {
	l.smu.Lock()
	defer l.smu.Unlock()
	f(&l.status)
}

func (l *loop) statusCopy() Status {
	l.smu.Lock()
	defer l.smu.Unlock()
	s := l.status
	s.Fetching = slices.Clone(s.Fetching)
	s.LastConflicts = slices.Clone(s.LastConflicts)
	if s.Fetch != nil {
		f := *s.Fetch
		s.Fetch = &f
	}
	return s
}
