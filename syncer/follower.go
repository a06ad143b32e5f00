package syncer

import (
	"bytes"
	"time"
)

// Follower is the sync state of one followed (or owned) database. It is not
// safe for concurrent use: one driver goroutine owns it.
type Follower struct {
	cfg Config
	st  Persisted

	started  bool      // the first Tick has run (restart re-put, first poll)
	polling  bool      // a Poll is out, its answer not yet in
	pollMin  int64     // the MinSeq of the Poll out
	nextPoll time.Time // when the next Poll is due (zero: at once)
	putting  bool      // a Put is out
	lastPut  time.Time // when the held item was last put (zero: never)

	attempts   map[Hash]*attempt // fetches of wanted versions
	installing bool              // an Install is out
	bad        map[Hash]bool     // versions that failed their check
}

// attempt is the fetch of one candidate version.
type attempt struct {
	started time.Time // when the current try began
	stalled bool      // timed out or failed once: older candidates may be tried
	failed  bool      // the last try failed; retry at retryAt
	retryAt time.Time
	done    bool // downloaded, waiting for or in install
}

// New returns a Follower resuming from st (the zero Persisted for a database
// never followed before).
func New(cfg Config, st Persisted) (*Follower, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st.Item = bytes.Clone(st.Item)
	st.Pointer = clonePointer(st.Pointer)
	return &Follower{
		cfg:      cfg.withDefaults(),
		st:       st,
		attempts: map[Hash]*attempt{},
		bad:      map[Hash]bool{},
	}, nil
}

// State returns a copy of the durable state.
func (f *Follower) State() Persisted {
	st := f.st
	st.Item = bytes.Clone(st.Item)
	st.Pointer = clonePointer(st.Pointer)
	return st
}

// Tick advances time to now and returns what is due: the first poll and the
// restart re-put, scheduled polls, keep-alive puts, fallbacks and retries.
func (f *Follower) Tick(now time.Time) []Action {
	var out actions
	if !f.started {
		f.started = true
		f.maybePut(&out, now, true)
	}
	if !f.polling && !now.Before(f.nextPoll) {
		f.polling, f.pollMin = true, f.st.Seq
		out.add(Poll{MinSeq: f.st.Seq})
	}
	if f.st.Item != nil && !now.Before(f.lastPut.Add(f.cfg.KeepAliveInterval)) {
		f.maybePut(&out, now, true)
	}
	f.reconcile(&out, now)
	return out.list(f)
}

// Step feeds one event at time now and returns the resulting actions.
func (f *Follower) Step(now time.Time, ev Event) []Action {
	var out actions
	switch ev := ev.(type) {
	case PollResult:
		f.pollAnswered(now)
		f.onPollResult(&out, now, ev)
	case PollNotFound:
		f.pollAnswered(now)
		f.maybePut(&out, now, true)
	case PollFailed:
		f.pollAnswered(now)
		if retry := now.Add(f.cfg.RetryInterval); retry.Before(f.nextPoll) {
			f.nextPoll = retry // no nodes yet, a timeout: try again sooner
		}
		out.add(Notice{Kind: NoticePollFailed, Seq: f.st.Seq, Err: ev.Err})
	case Published:
		f.onPublished(&out, now, ev)
	case FetchDone:
		if a := f.attempts[ev.IH]; a != nil && !a.done {
			a.done = true
		}
	case FetchFailed:
		if a := f.attempts[ev.IH]; a != nil && !a.done {
			a.failed, a.stalled = true, true
			a.retryAt = now.Add(f.cfg.RetryInterval)
			out.add(Notice{Kind: NoticeFetchFailed, IH: ev.IH, Err: ev.Err})
		}
	case FetchTimedOut:
		if a := f.attempts[ev.IH]; a != nil {
			a.stalled = true
		}
	case FetchInvalid:
		f.bad[ev.IH] = true
		delete(f.attempts, ev.IH)
		out.add(Notice{Kind: NoticeBadVersion, IH: ev.IH, Err: ev.Err})
	case InstallDone:
		f.installing = false
		f.onInstalled(&out, now, ev.IH)
	case InstallFailed:
		f.installing = false
		f.bad[ev.IH] = true
		delete(f.attempts, ev.IH)
		out.add(Notice{Kind: NoticeBadVersion, IH: ev.IH, Err: ev.Err})
	case PutDone:
		f.putting = false
		if ev.Err != nil {
			out.add(Notice{Kind: NoticePutFailed, Seq: ev.Seq, Err: ev.Err})
		}
	}
	f.reconcile(&out, now)
	return out.list(f)
}

// NextWake is the earliest time at which Tick has something to do; the
// driver may tick earlier or more often. ok is false when nothing is
// scheduled: only an event can change that.
func (f *Follower) NextWake() (at time.Time, ok bool) {
	if !f.started {
		return time.Time{}, true
	}
	consider := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	if !f.polling {
		consider(f.nextPoll)
	}
	if f.st.Item != nil && !f.putting {
		consider(f.lastPut.Add(f.cfg.KeepAliveInterval))
	}
	for _, a := range f.attempts {
		switch {
		case a.failed:
			consider(a.retryAt)
		case !a.done && !a.stalled:
			consider(a.started.Add(f.cfg.FetchTimeout))
		}
	}
	return at, ok
}

func (f *Follower) pollAnswered(now time.Time) {
	f.polling = false
	f.nextPoll = now.Add(f.cfg.pollDelay())
}

func (f *Follower) onPollResult(out *actions, now time.Time, ev PollResult) {
	switch {
	case ev.Seq < f.st.Seq:
		// An older seq: refused, and ours is put back. It is a replay only
		// when it is a signed item older than the poll asked for; an answer
		// at the poll's MinSeq means a newer pointer came in (a local
		// publish) while the poll was out, and a seq without an item is
		// only a stale node's claim.
		if ev.Seq < f.pollMin && len(ev.Item) > 0 {
			out.add(Notice{Kind: NoticeReplay, Seq: ev.Seq})
		}
		f.maybePut(out, now, true)
	case ev.Seq == f.st.Seq && f.st.Item != nil:
		f.maybePut(out, now, ev.Found < f.cfg.MinFound)
	default:
		f.accept(out, ev.Seq, ev.Pointer, ev.Item)
		// The item was put recently by whoever published it: the hourly
		// keep-alive counts from now.
		f.lastPut = now
		f.maybePut(out, now, ev.Found < f.cfg.MinFound)
	}
}

func (f *Follower) onPublished(out *actions, now time.Time, ev Published) {
	if ev.Seq == f.st.Seq && f.st.Item != nil && bytes.Equal(ev.Item, f.st.Item) {
		f.lastPut = now // a poll saw our publish first
		if !f.st.HasCurrent || f.st.Current != ev.Pointer.IH {
			f.st.Current, f.st.HasCurrent = ev.Pointer.IH, true
			out.dirty = true
		}
		return
	}
	if ev.Seq <= f.st.Seq {
		out.add(Notice{Kind: NoticeReplay, Seq: ev.Seq})
		return
	}
	f.st.Current, f.st.HasCurrent = ev.Pointer.IH, true
	f.accept(out, ev.Seq, ev.Pointer, ev.Item)
	f.lastPut = now
}

// accept makes a newer pointer the held one.
func (f *Follower) accept(out *actions, seq int64, p Pointer, item []byte) {
	old := f.st.Pointer
	hadItem := f.st.Item != nil
	f.st.Seq, f.st.Item, f.st.Pointer = seq, bytes.Clone(item), clonePointer(p)
	if len(f.st.Pointer.Prev) > MaxPrev {
		f.st.Pointer.Prev = f.st.Pointer.Prev[:MaxPrev]
	}
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

// maybePut emits a Put of the held item when want and none is out.
func (f *Follower) maybePut(out *actions, now time.Time, want bool) {
	if !want || f.putting || f.st.Item == nil {
		return
	}
	f.putting = true
	f.lastPut = now
	out.add(Put{Seq: f.st.Seq, Item: bytes.Clone(f.st.Item)})
}

func clonePointer(p Pointer) Pointer {
	p.Prev = append([]Hash(nil), p.Prev...)
	p.Next = bytes.Clone(p.Next)
	return p
}

// actions collects the output of one call. When the durable state changed,
// a Save of the final state comes first.
type actions struct {
	dirty bool
	rest  []Action
}

func (a *actions) add(x Action) { a.rest = append(a.rest, x) }

func (a *actions) list(f *Follower) []Action {
	if !a.dirty {
		return a.rest
	}
	return append([]Action{Save{State: f.State()}}, a.rest...)
}
