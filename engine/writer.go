package engine

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// writer is the writer's part of an Engine: the automatic publish rule, the
// publish in progress, and what the journal reported.
type writer struct {
	pub      *cycle   // the publish in progress; nil when none
	requests []uint64 // explicit requests waiting for the next publish

	first, last time.Time // the first and last unpublished write; zero: none
	unpublished int       // journaled writes not in a confirmed version
	locked      bool      // the key is not available: no automatic publish
	retryAt     time.Time // no automatic publish before (after a failure)
	confirmAt   time.Time // Unconfirmed: the next read-back

	casUsed bool // the pending item was put once: put it again without cas

	// catchUpErr is why the last fetch or rebase of the newest version
	// failed; a publish that must wait for that catch-up ends with it.
	catchUpErr error
}

// cycle is one publish: finish a pending put, learn the newest pointer,
// catch up with it, snapshot and sign, put, read back and confirm. Each
// step's answer leads to the next through publishStep.
type cycle struct {
	ids      []uint64
	started  time.Time
	op       pubOp // the action out, if any
	checked  bool  // the newest pointer was read before preparing
	prepared bool  // the working copy was prepared (signed, or unchanged)
	attempts int   // publish puts made
	putSeq   int64 // the seq of the publish Put out
	stored   bool  // a publish put of this cycle was stored
	res      PublishResult
}

type pubOp int

const (
	opNone    pubOp = iota
	opPut           // a publish Put is out
	opCheck         // the ReadBack before preparing is out
	opPrepare       // Prepare is out
	opVerify        // the ReadBack after our put is out
	opConfirm       // Confirm is out
)

func (e *Engine) journaled() bool { return e.cfg.Mode == WriteJournaled }

// canInstall: a version may be installed (a journaled writer: rebased)
// now. A rebase waits while a publish step is out: the working copy must
// not change under a snapshot, nor the held pointer under a put.
func (e *Engine) canInstall() bool {
	return e.w.pub == nil || e.w.pub.op == opNone
}

// caughtUp: the working copy builds on the newest version held.
func (e *Engine) caughtUp() bool {
	return e.st.Item == nil || (e.st.HasCurrent && e.st.Current == e.st.Pointer.IH) || e.bad[e.st.Pointer.IH]
}

// wrote records an unpublished write at now (the automatic publish rule).
func (w *writer) wrote(now time.Time) {
	if w.first.IsZero() {
		w.first = now
	}
	w.last = now
}

// dueAt is when the writes made are to be published automatically.
func (e *Engine) dueAt() (time.Time, bool) {
	w := &e.w
	if w.first.IsZero() || e.cfg.ManualPublish || w.locked {
		return time.Time{}, false
	}
	at := w.last.Add(e.cfg.PublishDelay)
	if limit := w.first.Add(e.cfg.MaxPublishDelay); limit.Before(at) {
		at = limit
	}
	if at.Before(w.retryAt) {
		at = w.retryAt
	}
	return at, true
}

// publishWake is when publishStep has something to start.
func (e *Engine) publishWake() (time.Time, bool) {
	w := &e.w
	if !e.cfg.Mode.writer() || w.pub != nil {
		return time.Time{}, false
	}
	if len(w.requests) > 0 {
		return time.Time{}, true
	}
	if e.st.Pending != nil {
		return w.retryAt, true
	}
	if e.journaled() && e.st.Unconfirmed {
		return w.confirmAt, true
	}
	return e.dueAt()
}

// stepWriter handles the writer's events.
func (e *Engine) stepWriter(out *actions, now time.Time, ev Event) {
	w := &e.w
	switch ev := ev.(type) {
	case Wrote:
		w.wrote(now)
		if e.journaled() {
			w.unpublished++
		}
	case Unpublished:
		w.unpublished = ev.N
		if ev.N > 0 {
			w.wrote(now)
		}
	case PublishRequest:
		if !e.cfg.Mode.writer() {
			out.add(PublishDone{IDs: []uint64{ev.ID}, Result: PublishResult{Seq: e.st.Seq, Err: ErrNotWriter}})
			return
		}
		w.requests = append(w.requests, ev.ID)
	case Unlocked:
		w.locked = false
		w.retryAt = time.Time{}
	case Prepared:
		e.onPrepared(out, now, ev)
	case PrepareFailed:
		if c := w.pub; c != nil && c.op == opPrepare {
			c.op = opNone
			if ev.Locked {
				w.locked = true
				out.add(Notice{Kind: NoticeLocked, Seq: e.st.Seq, Err: ev.Err})
			}
			e.finish(out, now, ev.Err)
		}
	case ReadBackResult:
		e.onReadBack(out, now, &ev)
	case ReadBackNotFound:
		e.onReadBack(out, now, nil)
	case ReadBackFailed:
		if c := w.pub; c != nil && (c.op == opCheck || c.op == opVerify) {
			e.onReadBack(out, now, nil)
		}
	case RebaseDone:
		e.installing = false
		e.onRebased(out, now, ev)
	case RebaseFailed:
		e.installing = false
		if a := e.attempts[ev.IH]; a != nil {
			a.rebaseAt = now.Add(e.cfg.RetryInterval)
		}
		out.add(Notice{Kind: NoticeRebaseFailed, IH: ev.IH, Err: ev.Err})
		e.catchUpFailed(out, now, fmt.Errorf("rebase onto %s: %w", ev.IH, ev.Err))
	case ConfirmDone:
		if c := w.pub; c != nil && c.op == opConfirm {
			c.op = opNone
		}
		if e.st.Unconfirmed && ev.Seq == e.st.Seq {
			e.st.Unconfirmed = false
			out.dirty = true
			out.add(Notice{Kind: NoticeConfirmed, Seq: ev.Seq})
		}
		w.unpublished = ev.Unpublished
	case ConfirmFailed:
		if c := w.pub; c != nil && c.op == opConfirm {
			c.op = opNone
			w.confirmAt = now.Add(e.cfg.RetryInterval)
			c.res.Unconfirmed = true
			e.finish(out, now, nil)
		}
	}
}

// publishStep starts a publish when one is due and takes the one in
// progress to its next step when no step of it is out.
func (e *Engine) publishStep(out *actions, now time.Time) {
	if !e.cfg.Mode.writer() {
		return
	}
	// A publish that ends may let the next one start at once (requests
	// made while it ran).
	for range 2 {
		if !e.publishOnce(out, now) {
			return
		}
	}
}

// publishOnce is one round of publishStep; it reports whether the publish
// in progress ended.
func (e *Engine) publishOnce(out *actions, now time.Time) (ended bool) {
	w := &e.w
	if w.pub == nil {
		at, due := e.publishWake()
		if !due || now.Before(at) {
			return false
		}
		w.pub = &cycle{ids: w.requests, started: now}
		w.requests = nil
		if !w.last.After(now) {
			w.first, w.last = time.Time{}, time.Time{} // the writes so far are in this publish
		}
	}
	c := w.pub
	if c.op != opNone || e.installing {
		// One step at a time, and none beside a rebase: the working copy
		// and the journal change under it.
		return false
	}
	switch {
	case e.st.Pending != nil:
		p := e.st.Pending
		c.op, c.putSeq = opPut, p.Seq
		put := Put{Seq: p.Seq, Item: bytes.Clone(p.Item), Publish: true}
		if !w.casUsed {
			put.CAS, put.HasCAS = p.CAS, p.HasCAS
		}
		w.casUsed = true
		out.add(put)
	case e.journaled() && e.st.Unconfirmed:
		c.op = opVerify
		out.add(ReadBack{})
	case e.journaled() && !c.checked:
		c.op = opCheck
		out.add(ReadBack{})
	case e.journaled() && !e.caughtUp():
		// reconcile fetches the newest version and rebases onto it; the
		// RebaseDone brings us back here, unless that already failed.
		if w.catchUpErr != nil {
			e.finish(out, now, fmt.Errorf("catch up: %w", w.catchUpErr))
		}
	case !c.prepared:
		if e.st.Pointer.RO && e.st.Item != nil {
			e.finish(out, now, ErrReadOnly)
			break
		}
		c.op = opPrepare
		out.add(Prepare{Seq: e.st.Seq + 1, Held: bytes.Clone(e.st.Item)})
	default:
		e.finish(out, now, nil)
	}
	return w.pub == nil
}

func (e *Engine) onPrepared(out *actions, now time.Time, ev Prepared) {
	c := e.w.pub
	if c == nil || c.op != opPrepare {
		return
	}
	c.op, c.prepared = opNone, true
	if ev.Unchanged {
		if e.journaled() && e.w.unpublished > 0 && e.st.Item != nil {
			// The held version is the working copy, yet the journal holds
			// writes not confirmed: read it back so that it learns.
			e.st.Unconfirmed = true
			out.dirty = true
		}
		return
	}
	if ev.Seq != e.st.Seq+1 {
		// A newer pointer came in while preparing: build on it instead.
		c.prepared = false
		return
	}
	e.st.Pending = &Pending{Seq: ev.Seq, Item: bytes.Clone(ev.Item), Pointer: clonePointer(ev.Pointer),
		CAS: e.st.Seq, HasCAS: e.st.Seq > 0}
	e.w.casUsed = false
	out.dirty = true
}

func (e *Engine) onPublishPut(out *actions, now time.Time, ev PutDone) {
	c := e.w.pub
	if c == nil || c.op != opPut || c.putSeq != ev.Seq {
		return
	}
	c.op = opNone
	c.attempts++
	p := e.st.Pending
	if p == nil || p.Seq != ev.Seq {
		// A newer pointer made ours obsolete while the put was out.
		out.add(Notice{Kind: NoticeLostRace, Seq: ev.Seq})
		if !e.journaled() {
			e.finish(out, now, fmt.Errorf("put seq %d: %w", ev.Seq, ErrConflict))
			return
		}
		c.checked = true // the newer pointer is held already
		e.retryRace(out, now)
		return
	}
	switch {
	case ev.Stored > 0:
		c.stored = true
		e.st.Seq, e.st.Item, e.st.Pointer = p.Seq, p.Item, p.Pointer
		e.st.Current, e.st.HasCurrent = p.Pointer.IH, true
		e.st.Pending = nil
		e.st.Unconfirmed = e.journaled()
		e.lastPut = now
		out.dirty = true
		c.res.Unchanged = false
		out.add(Notice{Kind: NoticeNewPointer, Seq: p.Seq, IH: p.Pointer.IH})
	case ev.Conflict:
		// A pointer at our seq or above exists: ours can never be stored.
		e.st.Pending = nil
		out.dirty = true
		out.add(Notice{Kind: NoticeLostRace, Seq: p.Seq, Err: ev.Err})
		if !e.journaled() {
			e.nextPoll = now // learn the other writer's pointer
			e.finish(out, now, fmt.Errorf("put seq %d: %w", p.Seq, ErrConflict))
			return
		}
		c.checked = false // learn the winner
		e.retryRace(out, now)
	default:
		e.w.retryAt = now.Add(e.cfg.RetryInterval)
		err := ev.Err
		if err == nil {
			err = fmt.Errorf("no node stored seq %d", p.Seq)
		}
		e.finish(out, now, err)
	}
}

// retryRace starts another attempt after a race lost, or ends the publish
// when too many were.
func (e *Engine) retryRace(out *actions, now time.Time) {
	c := e.w.pub
	if c.attempts >= e.cfg.PublishAttempts {
		e.finish(out, now, fmt.Errorf("lost %d races in a row: %w", c.attempts, ErrConflict))
		return
	}
	c.prepared = false
}

// onReadBack handles the answer to a ReadBack; r is nil when nothing was
// found or the get failed.
func (e *Engine) onReadBack(out *actions, now time.Time, r *ReadBackResult) {
	c := e.w.pub
	if c == nil || (c.op != opCheck && c.op != opVerify) {
		return
	}
	verify := c.op == opVerify
	c.op = opNone
	if verify && !e.st.Unconfirmed {
		// A newer pointer superseded ours while the read-back was out.
		out.add(Notice{Kind: NoticeLostRace, Seq: e.st.Seq})
		c.checked = true
		e.retryRace(out, now)
		return
	}
	if !verify {
		c.checked = true
		if r != nil {
			e.judgeNewest(out, now, r)
		}
		return
	}
	switch {
	case r != nil && r.Seq == e.st.Seq && bytes.Equal(r.Item, e.st.Item):
		c.op, c.checked = opConfirm, true
		out.add(Confirm{IH: e.st.Pointer.IH, Seq: e.st.Seq})
	case r != nil && (r.Seq > e.st.Seq || r.Seq == e.st.Seq && len(r.Item) > 0):
		// Another writer's pointer won over ours: rebase and publish again.
		out.add(Notice{Kind: NoticeLostRace, Seq: e.st.Seq})
		e.judgeNewest(out, now, r)
		c.checked = true
		e.retryRace(out, now)
	default:
		// Our put is not visible yet, or the get failed: stored, but not
		// confirmed; the read-back is tried again later.
		e.w.confirmAt = now.Add(e.cfg.RetryInterval)
		c.res.Unconfirmed = true
		e.finish(out, now, nil)
	}
}

// judgeNewest takes what a read-back found as a poll's answer would be
// taken: a newer pointer is accepted, another value at our seq adopted
// (journaled), an older one refused and ours put back.
func (e *Engine) judgeNewest(out *actions, now time.Time, r *ReadBackResult) {
	switch {
	case r.Seq > e.st.Seq:
		e.accept(out, r.Seq, r.Pointer, r.Item)
		e.lastPut = now
	case r.Seq == e.st.Seq:
		e.adoptSplit(out, r.Seq, r.Pointer, r.Item)
	default:
		e.maybePut(out, now, true)
	}
}

// onRebased: the working copy now builds on ev.IH.
func (e *Engine) onRebased(out *actions, now time.Time, ev RebaseDone) {
	delete(e.attempts, ev.IH)
	e.w.catchUpErr = nil
	e.st.Current, e.st.HasCurrent = ev.IH, true
	out.dirty = true
	out.add(Notice{Kind: NoticeRebased, Seq: e.st.Seq, IH: ev.IH})
	e.w.unpublished = ev.Unpublished
	if ev.Unpublished > 0 {
		e.w.wrote(now) // our writes the version lacks are published soon
	}
}

// catchUpFailed records why the catch-up with the newest version failed: a
// publish waiting for it ends with the error rather than after every retry.
func (e *Engine) catchUpFailed(out *actions, now time.Time, err error) {
	if e.journaled() {
		e.w.catchUpErr = err
	}
}

// finish ends the publish in progress with err (nil: success).
func (e *Engine) finish(out *actions, now time.Time, err error) {
	w := &e.w
	c := w.pub
	if c == nil {
		return
	}
	w.pub = nil
	res := c.res
	res.Seq, res.IH, res.Attempts, res.Err = e.st.Seq, e.st.Pointer.IH, c.attempts, err
	res.Unchanged = !c.stored && err == nil
	if errors.Is(err, ErrReadOnly) {
		w.first, w.last = time.Time{}, time.Time{} // nothing to retry while locked
	} else if err != nil {
		// The writes of this publish are unpublished again.
		if w.first.IsZero() || c.started.Before(w.first) {
			w.first = c.started
		}
		if w.last.Before(c.started) {
			w.last = c.started
		}
		if w.retryAt.Before(now) {
			w.retryAt = now.Add(e.cfg.RetryInterval)
		}
	}
	out.add(PublishDone{IDs: c.ids, Result: res})
}
