package engine

import (
	"github.com/dhtdb/dhtdb/record"
)

// Hash is a snapshot's v1 infohash.
type Hash = record.Hash

// Pointer is the part of a decoded pointer record the sync engine acts on.
type Pointer struct {
	IH   Hash   `json:"ih"`
	Prev []Hash `json:"prev,omitempty"` // earlier snapshots, newest first; entries past record.MaxPrev are ignored
	Size int64  `json:"size,omitempty"` // snapshot length in bytes, 0 if unknown
	RO   bool   `json:"ro,omitempty"`   // the owner locked the database read-only
	Next []byte `json:"next,omitempty"` // the owner's new public key after a key rotation, nil if none
}

// Persisted is the durable state of an Engine. The driver writes it when it
// receives a Save action (before carrying out the actions after it) and passes
// it to New after a restart. The Engine is its only writer.
type Persisted struct {
	// Seq is the highest pointer seq accepted; 0 if none yet.
	Seq int64 `json:"seq"`
	// Item is the signed item at Seq, opaque bytes owned by the driver; it is
	// re-put verbatim. nil if none yet.
	Item []byte `json:"item,omitempty"`
	// Pointer is the record of Item.
	Pointer Pointer `json:"pointer"`
	// Current is the version installed locally (a writer: the version its
	// working copy builds on), valid when HasCurrent.
	Current    Hash `json:"current"`
	HasCurrent bool `json:"has_current"`
	// Pending is a writer's publish that is signed but not yet known to be
	// stored; it is put again (the same bytes) until it is, or until a newer
	// pointer makes it obsolete.
	Pending *Pending `json:"pending,omitempty"`
	// Unconfirmed: a journaled writer's publish at Seq was stored, but the
	// read-back that confirms it won (and tells the journal which writes it
	// holds) has not succeeded yet.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// Pending is a signed publish waiting to be stored.
type Pending struct {
	Seq     int64   `json:"seq"`
	Item    []byte  `json:"item"`
	Pointer Pointer `json:"pointer"`
	CAS     int64   `json:"cas"`
	HasCAS  bool    `json:"has_cas"`
}

// Event is an input to Engine.Step.
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

// PollNow: poll at once (a user's "sync now"), unless a poll is out.
type PollNow struct{}

// Pushed: a peer passed on a verified item of this database (live push).
// It is judged like a poll's answer, without changing the poll schedule.
type Pushed struct {
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

// PutDone reports the outcome of a Put action. Conflict is set when no node
// stored the item and some refused it for a cas mismatch or a lower seq: a
// pointer at our seq or above exists (another writer with the key).
type PutDone struct {
	Seq      int64
	Publish  bool // the Put was a publish, not a keep-alive
	Stored   int
	Conflict bool
	Err      error
}

// Wrote: a write to a writer's working copy is durable (in the journal, for
// a journaled writer). It makes a publish due.
type Wrote struct{}

// Unpublished: the journal holds N writes not yet in a confirmed version
// (reported by the driver at start and whenever it counts them).
type Unpublished struct{ N int }

// PublishRequest: publish now (a user's command). The PublishDone that
// answers it carries ID.
type PublishRequest struct{ ID uint64 }

// Unlocked: the writer's private key is available for signing again.
type Unlocked struct{}

// Prepared answers Prepare: the working copy's snapshot is made and seeded,
// and Item is the pointer at Seq signed for it. Unchanged: the snapshot is
// the version the held pointer names already; nothing was signed.
type Prepared struct {
	Seq       int64
	Pointer   Pointer
	Item      []byte
	Unchanged bool
}

// PrepareFailed answers Prepare. Locked: the private key is not available;
// no automatic publish is tried until Unlocked.
type PrepareFailed struct {
	Err    error
	Locked bool
}

// ReadBackResult answers ReadBack: the newest verified item found, with its
// value (never a value-less claim).
type ReadBackResult struct {
	Seq     int64
	Pointer Pointer
	Item    []byte
	Found   int
}

// ReadBackNotFound answers ReadBack: no node holds the pointer.
type ReadBackNotFound struct{}

// ReadBackFailed answers ReadBack.
type ReadBackFailed struct{ Err error }

// RebaseDone answers Rebase: the working copy is version IH plus our writes
// it lacked; Unpublished of ours are not yet in a confirmed version.
type RebaseDone struct {
	IH          Hash
	Unpublished int
}

// RebaseFailed answers Rebase; it is tried again after RetryInterval.
type RebaseFailed struct {
	IH  Hash
	Err error
}

// ConfirmDone answers Confirm: the journal knows which of our writes the
// version holds; Unpublished remain.
type ConfirmDone struct {
	Seq         int64
	Unpublished int
}

// ConfirmFailed answers Confirm; the read-back is tried again later.
type ConfirmFailed struct {
	Seq int64
	Err error
}

func (PollResult) event()       {}
func (PollNotFound) event()     {}
func (PollFailed) event()       {}
func (PollNow) event()          {}
func (Pushed) event()           {}
func (FetchDone) event()        {}
func (FetchFailed) event()      {}
func (FetchTimedOut) event()    {}
func (FetchInvalid) event()     {}
func (InstallDone) event()      {}
func (InstallFailed) event()    {}
func (PutDone) event()          {}
func (Wrote) event()            {}
func (Unpublished) event()      {}
func (PublishRequest) event()   {}
func (Unlocked) event()         {}
func (Prepared) event()         {}
func (PrepareFailed) event()    {}
func (ReadBackResult) event()   {}
func (ReadBackNotFound) event() {}
func (ReadBackFailed) event()   {}
func (RebaseDone) event()       {}
func (RebaseFailed) event()     {}
func (ConfirmDone) event()      {}
func (ConfirmFailed) event()    {}
