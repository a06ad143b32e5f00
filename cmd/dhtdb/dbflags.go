package main

import (
	"context"
	"flag"
	"time"
)

// DefaultDBTimeout bounds a database command that uses the network.
const DefaultDBTimeout = 2 * time.Minute

// dbFlags are the flags of the database commands (create, exec, query,
// publish, follow, unfollow, status).
type dbFlags struct {
	out     output
	data    dataFlag
	net     netFlags
	timeout time.Duration
}

// register adds the flags; withNet adds those of the commands that may join
// the DHT themselves when no daemon runs.
func (f *dbFlags) register(fs *flag.FlagSet, withNet bool) {
	f.out.register(fs)
	f.data.register(fs)
	if withNet {
		f.net.register(fs, "", "local UDP address of the DHT node when no daemon runs (default: an ephemeral port)")
		fs.DurationVar(&f.timeout, "timeout", DefaultDBTimeout, "give up after this long")
	}
}

// open returns the backend: the daemon on the data directory, else the
// directory itself. The context carries --timeout.
func (f *dbFlags) open(ctx context.Context, e *env) (backend, context.Context, context.CancelFunc, error) {
	dir, err := f.data.path(e)
	if err != nil {
		return nil, nil, nil, err
	}
	cancel := context.CancelFunc(func() {})
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	b, err := openBackend(ctx, e, dir, f.net)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return b, ctx, cancel, nil
}
