package engine

import (
	"errors"
	"fmt"
)

// Action is an output of the Engine. Actions are returned in the order they
// must be carried out; a Save always comes first, and when it fails the
// driver must not carry out the actions after it.
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

// Put: put Item (signed already; no key needed). A keep-alive re-puts the
// held item; a publish puts a new one, with the BEP 44 cas when HasCAS.
// Answer with PutDone.
type Put struct {
	Seq     int64
	Item    []byte
	Publish bool
	CAS     int64
	HasCAS  bool
}

// Prepare (writers): snapshot the working copy as the version that follows
// Held (the held signed item, nil before the first publish), seed it, and
// sign its pointer at Seq. Answer with Prepared or PrepareFailed.
type Prepare struct {
	Seq  int64
	Held []byte
}

// ReadBack (writers): get the newest pointer with its value, whatever its
// seq. Answer with ReadBackResult, ReadBackNotFound or ReadBackFailed.
type ReadBack struct{}

// Rebase (journaled writers): version IH, fetched, is another writer's:
// tell the journal which of our writes it holds, then make the working copy
// IH plus our other writes. Answer with RebaseDone or RebaseFailed.
type Rebase struct {
	IH  Hash
	Seq int64
}

// Confirm (journaled writers): our version IH won at Seq: the journal
// learns which of our writes it holds. Answer with ConfirmDone or
// ConfirmFailed.
type Confirm struct {
	IH  Hash
	Seq int64
}

// PublishDone ends a publish: the explicit requests it answers (IDs, maybe
// none for an automatic publish) and its result.
type PublishDone struct {
	IDs    []uint64
	Result PublishResult
}

// PublishResult says what a publish achieved.
type PublishResult struct {
	Seq       int64 // the pointer seq now held (ours when published)
	IH        Hash  // its snapshot
	Unchanged bool  // nothing new to publish
	Attempts  int   // puts made; more than 1 when another writer won a race
	// Unconfirmed: stored, but not yet read back as the winner (journaled).
	Unconfirmed bool
	Err         error
}

// Notice reports something worth logging or counting; nothing is expected back.
type Notice struct {
	Kind NoticeKind
	Seq  int64
	IH   Hash
	Key  []byte // NoticeMoved: the new public key
	Err  error
}

func (Save) action()        {}
func (Poll) action()        {}
func (Fetch) action()       {}
func (Cancel) action()      {}
func (Install) action()     {}
func (Put) action()         {}
func (Prepare) action()     {}
func (ReadBack) action()    {}
func (Rebase) action()      {}
func (Confirm) action()     {}
func (PublishDone) action() {}
func (Notice) action()      {}

// NoticeKind classifies a Notice.
type NoticeKind int

// Notice kinds.
const (
	NoticeNewPointer   NoticeKind = iota + 1 // a pointer with a higher seq was accepted
	NoticeReplay                             // a pointer with a lower seq than seen was refused
	NoticePollFailed                         // a poll failed (Err)
	NoticeFallback                           // an older candidate (IH) is tried as well
	NoticeFetchFailed                        // a fetch failed (Err)
	NoticeInstalled                          // IH is now the local version
	NoticeBadVersion                         // IH failed its check and is refused for good (Err)
	NoticeReadOnly                           // the owner locked the database (Seq)
	NoticeWritable                           // the owner lifted the lock
	NoticeMoved                              // the owner moved the database to Key
	NoticePutFailed                          // a re-put stored nowhere (Err)
	NoticeConfirmed                          // the pointer was confirmed as the newest (Seq)
	NoticeSplit                              // another writer's value at our seq won (Seq, IH: theirs)
	NoticeLostRace                           // another writer's publish won; ours is rebased and retried (Seq)
	NoticeRebased                            // our writes were rebased onto another writer's IH
	NoticeRebaseFailed                       // a rebase failed (Err); retried
	NoticeLocked                             // a publish is due but the key is locked
)

var noticeNames = map[NoticeKind]string{
	NoticeNewPointer: "new-pointer", NoticeReplay: "replay", NoticePollFailed: "poll-failed",
	NoticeFallback: "fallback", NoticeFetchFailed: "fetch-failed", NoticeInstalled: "installed",
	NoticeBadVersion: "bad-version", NoticeReadOnly: "read-only", NoticeWritable: "writable",
	NoticeMoved: "moved", NoticePutFailed: "put-failed", NoticeConfirmed: "confirmed",
	NoticeSplit: "split", NoticeLostRace: "lost-race", NoticeRebased: "rebased",
	NoticeRebaseFailed: "rebase-failed", NoticeLocked: "locked",
}

func (k NoticeKind) String() string {
	if s, ok := noticeNames[k]; ok {
		return s
	}
	return fmt.Sprintf("notice(%d)", int(k))
}

// Errors of PublishResult.Err that callers branch on.
var (
	// ErrConflict: another writer holding the key published concurrently
	// and won, and this writer cannot rebase (no journal), or lost
	// MaxPublishAttempts races in a row.
	ErrConflict = errors.New("another version was published concurrently")
	// ErrLocked: the private key is not available to sign.
	ErrLocked = errors.New("the key is locked")
	// ErrReadOnly: the held pointer locks the database read-only.
	ErrReadOnly = errors.New("the database is locked read-only by its owner")
	// ErrNotWriter: a publish was asked of a follower.
	ErrNotWriter = errors.New("not a writer of this database")
)
