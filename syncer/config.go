package syncer

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
)

// Config tunes a Follower. The zero value is usable: every zero field gets
// its Default* value.
type Config struct {
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
	// RetryInterval is the wait before a failed fetch is started again.
	RetryInterval time.Duration
	// KeepAliveInterval is the longest time between two re-puts of the held
	// signed item (BEP 44 asks for at least hourly).
	KeepAliveInterval time.Duration
	// MinFound: a poll that finds the held item on fewer of the closest nodes
	// than this triggers a re-put.
	MinFound int
	// KeepAliveOnly makes the Follower track and keep alive the pointer
	// without ever fetching or installing a version: the owner's mode, whose
	// working copy is the newest version and must not be replaced. A newer
	// pointer published elsewhere is still accepted, saved and reported.
	KeepAliveOnly bool
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
	if c.Rand == nil {
		var seed [16]byte
		_, _ = crand.Read(seed[:])
		c.Rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.PollInterval < 0, c.FetchTimeout < 0, c.RetryInterval < 0, c.KeepAliveInterval < 0:
		return errors.New("syncer: negative interval in config")
	case c.PollJitter < 0 || c.PollJitter >= 1:
		return fmt.Errorf("syncer: poll jitter %v outside [0,1)", c.PollJitter)
	case c.MinFound < 0 || c.MinFound > 20:
		return fmt.Errorf("syncer: min found %d outside 0..20", c.MinFound)
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
