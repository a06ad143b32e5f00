package syncer

import (
	"encoding/hex"
	"fmt"
)

// Hash is a snapshot's v1 infohash.
type Hash [20]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MaxPrev is how many earlier versions a pointer names (docs/PROTOCOL.md §3).
const MaxPrev = 4

// Pointer is the part of a decoded pointer record the sync engine acts on.
type Pointer struct {
	IH   Hash   // the current snapshot
	Prev []Hash // earlier snapshots, newest first; entries past MaxPrev are ignored
	Size int64  // snapshot length in bytes, 0 if unknown
	RO   bool   // the owner locked the database read-only
	Next []byte // the owner's new public key after a key rotation, nil if none
}

// Persisted is the durable state of a Follower. The driver writes it when it
// receives a Save action (before carrying out the actions after it) and passes
// it to New after a restart.
type Persisted struct {
	// Seq is the highest pointer seq accepted; 0 if none yet.
	Seq int64
	// Item is the signed item at Seq, opaque bytes owned by the driver; it is
	// re-put verbatim. nil if none yet.
	Item []byte
	// Pointer is the record of Item.
	Pointer Pointer
	// Current is the version installed locally, valid when HasCurrent.
	Current    Hash
	HasCurrent bool
}

// Event is an input to Follower.Step.
type Event interface{ event() }

// PollResult: a get found a verified item with seq >= the poll's MinSeq.
// Item may be nil only for a seq lower than the held one (nodes that answered
// with that seq but no value): it is refused like any older seq, never
// reported as a replay.
type PollResult struct {
	Seq     int64
	Pointer Pointer
	Item    []byte // the signed item, opaque, re-put verbatim later
	Found   int    // how many of the closest nodes returned this exact item
}

// PollNotFound: no responding node holds an item with seq >= MinSeq.
type PollNotFound struct{}

// PollFailed: the get could not be carried out (no nodes, malformed or
// forged record, ...). Err is reported in a Notice.
type PollFailed struct{ Err error }

// Published: the local writer put a new item itself. Its snapshot is the
// local version already, and the put counts as a keep-alive.
type Published struct {
	Seq     int64
	Pointer Pointer
	Item    []byte
}

// FetchDone: the snapshot IH has been downloaded completely (pieces verified).
type FetchDone struct{ IH Hash }

// FetchFailed: the fetch of IH stopped with an error; it is retried after
// RetryInterval while IH is still wanted, and the next candidate is tried.
type FetchFailed struct {
	IH  Hash
	Err error
}

// FetchTimedOut: the driver judged the fetch of IH stalled (for example no
// peers). It keeps running; the next older candidate is tried as well.
type FetchTimedOut struct{ IH Hash }

// FetchInvalid: the fetch of IH found that the version itself is not
// acceptable (not a snapshot torrent, not a sound SQLite file). An infohash
// names fixed bytes, so IH is refused for good, like a failed install.
type FetchInvalid struct {
	IH  Hash
	Err error
}

// InstallDone: IH passed its check and is now the local version.
type InstallDone struct{ IH Hash }

// InstallFailed: IH is not a valid database (or the swap failed). An
// infohash names fixed bytes, so IH is never fetched again.
type InstallFailed struct {
	IH  Hash
	Err error
}

// PutDone reports the outcome of a Put action.
type PutDone struct {
	Seq    int64
	Stored int
	Err    error
}

func (PollResult) event()    {}
func (PollNotFound) event()  {}
func (PollFailed) event()    {}
func (Published) event()     {}
func (FetchDone) event()     {}
func (FetchFailed) event()   {}
func (FetchTimedOut) event() {}
func (FetchInvalid) event()  {}
func (InstallDone) event()   {}
func (InstallFailed) event() {}
func (PutDone) event()       {}

// Action is an output of the Follower. Actions are returned in the order they
// must be carried out; a Save always comes first.
type Action interface{ action() }

// Save: persist State durably before carrying out the actions that follow.
type Save struct{ State Persisted }

// Poll: get the pointer with MinSeq (0: any seq). Answer with exactly one of
// PollResult, PollNotFound, PollFailed.
type Poll struct{ MinSeq int64 }

// Fetch: download IH, reusing the pieces of Base when HasBase (delta sync).
// Size is the expected length when known, else 0. Answer with FetchDone or
// FetchFailed (or FetchTimedOut, with the fetch still running).
type Fetch struct {
	IH      Hash
	Base    Hash
	HasBase bool
	Size    int64
}

// Cancel: stop fetching IH, it is no longer wanted. No event is expected.
type Cancel struct{ IH Hash }

// Install: check the fetched IH and swap it in as the local version. Answer
// with InstallDone or InstallFailed.
type Install struct{ IH Hash }

// Put: re-put Item (the same bytes, no key needed). Answer with PutDone.
type Put struct {
	Seq  int64
	Item []byte
}

// Notice reports something worth logging or counting; nothing is expected back.
type Notice struct {
	Kind NoticeKind
	Seq  int64
	IH   Hash
	Key  []byte // NoticeMoved: the new public key
	Err  error
}

func (Save) action()    {}
func (Poll) action()    {}
func (Fetch) action()   {}
func (Cancel) action()  {}
func (Install) action() {}
func (Put) action()     {}
func (Notice) action()  {}

// NoticeKind classifies a Notice.
type NoticeKind int

// Notice kinds.
const (
	NoticeNewPointer  NoticeKind = iota + 1 // a pointer with a higher seq was accepted
	NoticeReplay                            // a pointer with a lower seq than seen was refused
	NoticePollFailed                        // a poll failed (Err)
	NoticeFallback                          // an older candidate (IH) is tried as well
	NoticeFetchFailed                       // a fetch failed (Err)
	NoticeInstalled                         // IH is now the local version
	NoticeBadVersion                        // IH failed its check and is refused for good (Err)
	NoticeReadOnly                          // the owner locked the database (Seq)
	NoticeWritable                          // the owner lifted the lock
	NoticeMoved                             // the owner moved the database to Key
	NoticePutFailed                         // a re-put stored nowhere (Err)
)

var noticeNames = map[NoticeKind]string{
	NoticeNewPointer: "new-pointer", NoticeReplay: "replay", NoticePollFailed: "poll-failed",
	NoticeFallback: "fallback", NoticeFetchFailed: "fetch-failed", NoticeInstalled: "installed",
	NoticeBadVersion: "bad-version", NoticeReadOnly: "read-only", NoticeWritable: "writable",
	NoticeMoved: "moved", NoticePutFailed: "put-failed",
}

func (k NoticeKind) String() string {
	if s, ok := noticeNames[k]; ok {
		return s
	}
	return fmt.Sprintf("notice(%d)", int(k))
}

// MarshalText encodes h as 40 hex digits (JSON state files).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 40 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("syncer: infohash of %d hex digits, want 40", len(b))
	}
	_, err := hex.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("syncer: infohash: %w", err)
	}
	return nil
}
