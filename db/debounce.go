package db

import (
	"errors"
	"time"
)

// Defaults of Debounce.
const (
	DefaultPublishDelay    = 2 * time.Second
	DefaultMaxPublishDelay = 30 * time.Second
)

// Debounce decides when writes are published automatically: a publish is due
// Delay after the last write of a burst, and at the latest MaxDelay after the
// first unpublished write, so that a steady stream of writes still publishes.
// It is a pure rule: time comes in as arguments. The zero value uses the
// defaults.
type Debounce struct {
	// Delay is the quiet time after a write before publishing.
	Delay time.Duration
	// MaxDelay bounds how long a write may stay unpublished while writes
	// keep coming.
	MaxDelay time.Duration

	first, last time.Time // first and last unpublished write; zero: none
}

// Validate reports a configuration error.
func (d *Debounce) Validate() error {
	if d.Delay < 0 || d.MaxDelay < 0 {
		return errors.New("db: negative publish delay")
	}
	return nil
}

func (d *Debounce) delays() (time.Duration, time.Duration) {
	delay, maxDelay := d.Delay, d.MaxDelay
	if delay == 0 {
		delay = DefaultPublishDelay
	}
	if maxDelay == 0 {
		maxDelay = DefaultMaxPublishDelay
	}
	if maxDelay < delay {
		maxDelay = delay
	}
	return delay, maxDelay
}

// Wrote records a write at now.
func (d *Debounce) Wrote(now time.Time) {
	if d.first.IsZero() {
		d.first = now
	}
	d.last = now
}

// Pending reports whether writes wait to be published.
func (d *Debounce) Pending() bool { return !d.first.IsZero() }

// Due returns when the pending writes should be published; ok is false when
// nothing is pending.
func (d *Debounce) Due() (at time.Time, ok bool) {
	if d.first.IsZero() {
		return time.Time{}, false
	}
	delay, maxDelay := d.delays()
	at = d.last.Add(delay)
	if limit := d.first.Add(maxDelay); limit.Before(at) {
		at = limit
	}
	return at, true
}

// IsDue reports whether a publish is due at now.
func (d *Debounce) IsDue(now time.Time) bool {
	at, ok := d.Due()
	return ok && !now.Before(at)
}

// Started records that a publish began at now: writes up to now are in it.
// Writes after now make a new burst.
func (d *Debounce) Started(now time.Time) {
	if !d.last.After(now) {
		d.first, d.last = time.Time{}, time.Time{}
	}
}

// Failed records that the publish begun at start failed: its writes are
// pending again, due after a fresh Delay from now.
func (d *Debounce) Failed(start, now time.Time) {
	if d.first.IsZero() || start.Before(d.first) {
		d.first = start
	}
	if d.last.Before(now) {
		d.last = now
	}
}
