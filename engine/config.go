package engine

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultPollInterval      = 60 * time.Second
	DefaultPollJitter        = 0.1
	DefaultFetchTimeout      = 2 * time.Minute
	DefaultRetryInterval     = 30 * time.Second
	DefaultKeepAliveInterval = time.Hour
	DefaultMinFound          = 8
	DefaultPublishDelay      = 2 * time.Second
	DefaultMaxPublishDelay   = 30 * time.Second
	DefaultPublishAttempts   = 8
)

// Mode says how the node relates to the database.
type Mode int

// Modes.
const (
	// Follow: a reader. Newer versions are fetched and installed.
	Follow Mode = iota
	// Write: the only writer, without a journal. Newer pointers published
	// elsewhere are accepted and reported but never fetched: the working
	// copy is the newest version.
	Write
	// WriteJournaled: a writer whose writes are journaled, so that others
	// holding the key may write too. Another writer's version is fetched
	// and our unpublished writes are rebased onto it (Rebase); every publish
	// is read back, and a lost race is rebased and published again.
	WriteJournaled
)

func (m Mode) String() string {
	switch m {
	case Follow:
		return "follow"
	case Write:
		return "write"
	case WriteJournaled:
		return "write-journaled"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

func (m Mode) writer() bool { return m == Write || m == WriteJournaled }

// Config tunes an Engine. The zero value is a usable follower: every zero
// field gets its Default* value.
type Config struct {
	// Mode is the node's role. The zero value is Follow.
	Mode Mode
	// PollInterval is the mean time between two polls of the pointer.
	PollInterval time.Duration
	// PollJitter spreads polls uniformly over PollInterval·(1±PollJitter), so
	// that followers started together do not poll together. 0 means
	// DefaultPollJitter; set NoJitter for exact intervals.
	PollJitter float64
	// NoJitter makes every poll interval exactly PollInterval (tests).
	NoJitter bool
	// FetchTimeout is how long a fetch may run before the next older
	// candidate (an entry of prev) is tried as well. The slow fetch is not
	// cancelled.
	FetchTimeout time.Duration
	// RetryInterval is the wait before a failed fetch, rebase, publish or
	// read-back is tried again.
	RetryInterval time.Duration
	// KeepAliveInterval is the longest time between two re-puts of the held
	// signed item (BEP 44 asks for at least hourly).
	KeepAliveInterval time.Duration
	// MinFound: a poll that finds the held item on fewer of the closest nodes
	// than this triggers a re-put.
	MinFound int
	// ManualPublish turns the automatic publish after writes off: writes
	// wait for a PublishRequest. Off (the default): a publish starts
	// PublishDelay after the last write of a burst, at the latest
	// MaxPublishDelay after its first.
	ManualPublish bool
	// PublishDelay and MaxPublishDelay time the automatic publish.
	PublishDelay, MaxPublishDelay time.Duration
	// PublishAttempts bounds the races one publish runs (a journaled writer
	// rebases and tries again after each race lost).
	PublishAttempts int
	// Rand is the source of jitter. nil: a generator seeded from crypto/rand.
	Rand *rand.Rand
}

func (c Config) withDefaults() Config {
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PollJitter == 0 {
		c.PollJitter = DefaultPollJitter
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if c.MinFound == 0 {
		c.MinFound = DefaultMinFound
	}
	if c.PublishDelay == 0 {
		c.PublishDelay = DefaultPublishDelay
	}
	if c.MaxPublishDelay == 0 {
		c.MaxPublishDelay = DefaultMaxPublishDelay
	}
	if c.MaxPublishDelay < c.PublishDelay {
		c.MaxPublishDelay = c.PublishDelay
	}
	if c.PublishAttempts == 0 {
		c.PublishAttempts = DefaultPublishAttempts
	}
	if c.Rand == nil {
		var seed [16]byte
		if _, err := crand.Read(seed[:]); err != nil {
			panic(fmt.Sprintf("engine: crypto/rand: %v", err)) // crypto/rand never fails on supported platforms
		}
		c.Rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Mode < Follow || c.Mode > WriteJournaled:
		return fmt.Errorf("engine: unknown mode %d", int(c.Mode))
	case c.PollInterval < 0, c.FetchTimeout < 0, c.RetryInterval < 0, c.KeepAliveInterval < 0,
		c.PublishDelay < 0, c.MaxPublishDelay < 0:
		return errors.New("engine: negative interval in config")
	case c.PollJitter < 0 || c.PollJitter >= 1:
		return fmt.Errorf("engine: poll jitter %v outside [0,1)", c.PollJitter)
	case c.MinFound < 0 || c.MinFound > 20:
		return fmt.Errorf("engine: min found %d outside 0..20", c.MinFound)
	case c.PublishAttempts < 0 || c.PublishAttempts > 100:
		return fmt.Errorf("engine: publish attempts %d outside 0..100", c.PublishAttempts)
	}
	return nil
}

// pollDelay is the wait before the next poll.
func (c Config) pollDelay() time.Duration {
	if c.NoJitter {
		return c.PollInterval
	}
	f := 1 + c.PollJitter*(2*c.Rand.Float64()-1)
	return time.Duration(float64(c.PollInterval) * f)
}
