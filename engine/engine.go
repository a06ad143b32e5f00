package engine

import (
	"bytes"
	"time"

	"github.com/dhtdb/dhtdb/record"
)

// Engine is the sync state of one followed or written database. It is not
// safe for concurrent use: one driver goroutine owns it.
type Engine struct {
	cfg Config
	st  Persisted

	started  bool      // the first Tick has run (restart re-put, first poll)
	polling  bool      // a Poll is out, its answer not yet in
	pollMin  int64     // the MinSeq of the Poll out
	nextPoll time.Time // when the next Poll is due (zero: at once)
	putting  bool      // a keep-alive Put is out
	lastPut  time.Time // when the held item was last put (zero: never)

	attempts   map[Hash]*attempt // fetches of wanted versions
	installing bool              // an Install (or, journaled, a Rebase) is out
	bad        map[Hash]bool     // versions that failed their check

	w writer // the writer's part; unused by a follower
}

// attempt is the fetch of one candidate version.
type attempt struct {
	started time.Time // when the current try began
	stalled bool      // timed out or failed once: older candidates may be tried
	failed  bool      // the last try failed; retry at retryAt
	retryAt time.Time
	done    bool // downloaded, waiting for or in install
	// rebaseAt: a journaled writer's rebase of the fetched version failed;
	// it is tried again then.
	rebaseAt time.Time
}

// New returns an Engine resuming from st (the zero Persisted for a database
// never synced before).
func New(cfg Config, st Persisted) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg.withDefaults(),
		st:       cloneState(st),
		attempts: map[Hash]*attempt{},
		bad:      map[Hash]bool{},
	}
	// A pending publish may have been put before the restart: its first put
	// now goes without cas, which nodes holding it already would refuse.
	e.w.casUsed = st.Pending != nil
	return e, nil
}

// State returns a copy of the durable state.
func (e *Engine) State() Persisted { return cloneState(e.st) }

// Mode returns the configured mode.
func (e *Engine) Mode() Mode { return e.cfg.Mode }

// Tick advances time to now and returns what is due: the first poll and the
// restart re-put, scheduled polls, keep-alive puts, fallbacks and retries,
// and a writer's publish.
func (e *Engine) Tick(now time.Time) []Action {
	var out actions
	if !e.started {
		e.started = true
		e.maybePut(&out, now, true)
	}
	if !e.polling && !now.Before(e.nextPoll) {
		e.polling, e.pollMin = true, e.st.Seq
		out.add(Poll{MinSeq: e.st.Seq})
	}
	if e.st.Item != nil && !now.Before(e.lastPut.Add(e.cfg.KeepAliveInterval)) {
		e.maybePut(&out, now, true)
	}
	e.reconcile(&out, now)
	e.publishStep(&out, now)
	return out.list(e)
}

// Step feeds one event at time now and returns the resulting actions.
func (e *Engine) Step(now time.Time, ev Event) []Action {
	var out actions
	switch ev := ev.(type) {
	case PollResult:
		e.pollAnswered(now)
		e.onPollResult(&out, now, ev)
	case PollNotFound:
		e.pollAnswered(now)
		e.maybePut(&out, now, true)
	case PollFailed:
		e.pollAnswered(now)
		if retry := now.Add(e.cfg.RetryInterval); retry.Before(e.nextPoll) {
			e.nextPoll = retry // no nodes yet, a timeout: try again sooner
		}
		out.add(Notice{Kind: NoticePollFailed, Seq: e.st.Seq, Err: ev.Err})
	case PollNow:
		if !e.polling {
			e.nextPoll = now
		}
	case Pushed:
		e.onPushed(&out, now, ev)
	case FetchDone:
		if a := e.attempts[ev.IH]; a != nil && !a.done {
			a.done = true
		}
	case FetchFailed:
		if a := e.attempts[ev.IH]; a != nil && !a.done {
			a.failed, a.stalled = true, true
			a.retryAt = now.Add(e.cfg.RetryInterval)
			out.add(Notice{Kind: NoticeFetchFailed, IH: ev.IH, Err: ev.Err})
			e.catchUpFailed(&out, now, ev.Err)
		}
	case FetchTimedOut:
		if a := e.attempts[ev.IH]; a != nil {
			a.stalled = true
		}
	case FetchInvalid:
		e.refuse(&out, now, ev.IH, ev.Err)
	case InstallDone:
		e.installing = false
		e.onInstalled(&out, now, ev.IH)
	case InstallFailed:
		e.installing = false
		e.refuse(&out, now, ev.IH, ev.Err)
	case PutDone:
		if ev.Publish {
			e.onPublishPut(&out, now, ev)
		} else {
			e.putting = false
			if ev.Err != nil {
				out.add(Notice{Kind: NoticePutFailed, Seq: ev.Seq, Err: ev.Err})
			}
		}
	default:
		e.stepWriter(&out, now, ev)
	}
	e.reconcile(&out, now)
	e.publishStep(&out, now)
	return out.list(e)
}

// NextWake is the earliest time at which Tick has something to do; the
// driver may tick earlier or more often. ok is false when nothing is
// scheduled: only an event can change that.
func (e *Engine) NextWake() (at time.Time, ok bool) {
	if !e.started {
		return time.Time{}, true
	}
	consider := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	if !e.polling {
		consider(e.nextPoll)
	}
	if e.st.Item != nil && !e.putting {
		consider(e.lastPut.Add(e.cfg.KeepAliveInterval))
	}
	for _, a := range e.attempts {
		switch {
		case a.failed:
			consider(a.retryAt)
		case a.done && !a.rebaseAt.IsZero():
			consider(a.rebaseAt)
		case !a.done && !a.stalled:
			consider(a.started.Add(e.cfg.FetchTimeout))
		}
	}
	if t, due := e.publishWake(); due {
		consider(t)
	}
	return at, ok
}

func (e *Engine) pollAnswered(now time.Time) {
	e.polling = false
	e.nextPoll = now.Add(e.cfg.pollDelay())
}

func (e *Engine) onPollResult(out *actions, now time.Time, ev PollResult) {
	switch {
	case ev.Seq < e.st.Seq:
		// An older seq: refused, and ours is put back. It is a replay only
		// when it is a signed item older than the poll asked for; an answer
		// at the poll's MinSeq means a newer pointer came in (a local
		// publish) while the poll was out, and a seq without an item is
		// only a stale node's claim.
		if ev.Seq < e.pollMin && len(ev.Item) > 0 {
			out.add(Notice{Kind: NoticeReplay, Seq: ev.Seq})
		}
		e.maybePut(out, now, true)
	case ev.Seq == e.st.Seq && e.st.Item != nil:
		if e.adoptSplit(out, ev.Seq, ev.Pointer, ev.Item) {
			return
		}
		e.maybePut(out, now, ev.Found < e.cfg.MinFound)
	default:
		e.accept(out, ev.Seq, ev.Pointer, ev.Item)
		// The item was put recently by whoever published it: the hourly
		// keep-alive counts from now.
		e.lastPut = now
		e.maybePut(out, now, ev.Found < e.cfg.MinFound)
	}
}

// onPushed judges an item a peer passed on: newer ones are accepted as if a
// poll had found them; others change nothing (a push says nothing about
// how many nodes store the item).
func (e *Engine) onPushed(out *actions, now time.Time, ev Pushed) {
	if ev.Seq > e.st.Seq && len(ev.Item) > 0 {
		e.accept(out, ev.Seq, ev.Pointer, ev.Item)
		e.lastPut = now
	}
}

// Judge says how an item of seq with the signed bytes item compares with
// the held one: +1 newer, 0 the same, -1 older (or another value at the
// held seq, which only a journaled writer's read-back acts on).
func (e *Engine) Judge(seq int64, item []byte) int {
	switch {
	case seq > e.st.Seq:
		return 1
	case seq == e.st.Seq && bytes.Equal(item, e.st.Item):
		return 0
	}
	return -1
}

// adoptSplit handles another value at the held seq: two writers put the
// same seq. A journaled writer takes the one the DHT serves (every reader
// gets the same) and catches up with it; others keep theirs. It reports
// whether the value was adopted.
func (e *Engine) adoptSplit(out *actions, seq int64, p Pointer, item []byte) bool {
	if e.cfg.Mode != WriteJournaled || len(item) == 0 || bytes.Equal(item, e.st.Item) {
		return false
	}
	out.add(Notice{Kind: NoticeSplit, Seq: seq, IH: p.IH})
	e.accept(out, seq, p, item)
	return true
}

// accept makes a newer pointer (or, journaled, the winner of a split) the
// held one.
func (e *Engine) accept(out *actions, seq int64, p Pointer, item []byte) {
	old := e.st.Pointer
	hadItem := e.st.Item != nil
	e.st.Seq, e.st.Item, e.st.Pointer = seq, bytes.Clone(item), clonePointer(p)
	if len(e.st.Pointer.Prev) > record.MaxPrev {
		e.st.Pointer.Prev = e.st.Pointer.Prev[:record.MaxPrev]
	}
	if pd := e.st.Pending; pd != nil && pd.Seq <= seq {
		e.st.Pending = nil // another writer's pointer made it obsolete
	}
	e.st.Unconfirmed = false
	out.dirty = true
	out.add(Notice{Kind: NoticeNewPointer, Seq: seq, IH: p.IH})
	if p.RO && (!hadItem || !old.RO) {
		out.add(Notice{Kind: NoticeReadOnly, Seq: seq})
	}
	if !p.RO && hadItem && old.RO {
		out.add(Notice{Kind: NoticeWritable, Seq: seq})
	}
	if len(p.Next) > 0 && !bytes.Equal(p.Next, old.Next) {
		out.add(Notice{Kind: NoticeMoved, Seq: seq, Key: bytes.Clone(p.Next)})
	}
}

// maybePut emits a keep-alive Put of the held item when want and none is out.
func (e *Engine) maybePut(out *actions, now time.Time, want bool) {
	if !want || e.putting || e.st.Item == nil {
		return
	}
	e.putting = true
	e.lastPut = now
	out.add(Put{Seq: e.st.Seq, Item: bytes.Clone(e.st.Item)})
}

// refuse marks IH as a version that failed its check, for good.
func (e *Engine) refuse(out *actions, now time.Time, ih Hash, err error) {
	e.bad[ih] = true
	delete(e.attempts, ih)
	out.add(Notice{Kind: NoticeBadVersion, IH: ih, Err: err})
	e.catchUpFailed(out, now, err)
}

func clonePointer(p Pointer) Pointer {
	p.Prev = append([]Hash(nil), p.Prev...)
	p.Next = bytes.Clone(p.Next)
	return p
}

func cloneState(st Persisted) Persisted {
	st.Item = bytes.Clone(st.Item)
	st.Pointer = clonePointer(st.Pointer)
	if st.Pending != nil {
		p := *st.Pending
		p.Item = bytes.Clone(p.Item)
		p.Pointer = clonePointer(p.Pointer)
		st.Pending = &p
	}
	return st
}

// actions collects the output of one call. When the durable state changed,
// a Save of the final state comes first.
type actions struct {
	dirty bool
	rest  []Action
}

func (a *actions) add(x Action) { a.rest = append(a.rest, x) }

func (a *actions) list(e *Engine) []Action {
	if !a.dirty {
		return a.rest
	}
	return append([]Action{Save{State: e.State()}}, a.rest...)
}
