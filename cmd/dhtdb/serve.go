package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/internal/bench"
	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/syncer"
)

// serveCmd: dhtdb serve [--data DIR] [--http ADDR]: the daemon. It runs
// until interrupted; the other commands act through its API meanwhile.
type serveCmd struct {
	out      output
	data     dataFlag
	net      netFlags
	httpAddr string
	torrent  string
	sync     syncer.Config
	debounce db.Debounce
	// downRate, upRate: bytes per second of the torrent client; 0: unlimited.
	downRate, upRate int64
	// conflicts is the rule for two writers who changed the same row.
	conflicts string
}

func (c *serveCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	c.data.register(fs)
	c.net.register(fs, daemon.DefaultDHTAddr, "UDP address of the DHT node")
	fs.StringVar(&c.httpAddr, "http", daemon.DefaultHTTPAddr, "address of the HTTP API (loopback only)")
	fs.StringVar(&c.torrent, "torrent", "", "address of the torrent client (default: any address, a free port)")
	fs.DurationVar(&c.sync.PollInterval, "poll", syncer.DefaultPollInterval, "mean time between two polls of a followed database's pointer")
	fs.DurationVar(&c.debounce.Delay, "debounce", db.DefaultPublishDelay, "quiet time after a write before the automatic publish")
	fs.DurationVar(&c.debounce.MaxDelay, "debounce-max", db.DefaultMaxPublishDelay, "longest a write waits for the automatic publish while writes keep coming")
	fs.StringVar(&c.conflicts, "conflicts", string(journal.DefaultPolicy), "when two writers changed the same row: later-wins (the later write by timestamp) or reject (the rebased write is rejected and reported)")
	fs.Func("download-rate", "limit the versions downloaded to this many bytes per second, e.g. 10MB (default: unlimited)", rateFlag(&c.downRate))
	fs.Func("upload-rate", "limit the versions uploaded to this many bytes per second, e.g. 10MB (default: unlimited)", rateFlag(&c.upRate))
}

// rateFlag parses a rate in bytes per second ("10MB", "512KiB", "4096").
func rateFlag(dst *int64) func(string) error {
	return func(s string) error {
		n, err := bench.ParseSize(s)
		if err != nil {
			return fmt.Errorf("rate: %w", err)
		}
		*dst = n
		return nil
	}
}

type serveEvent struct {
	Event string `json:"event"` // "started", "stopped"
	Data  string `json:"data"`
	daemon.Info
}

func (c *serveCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	policy := journal.Policy(c.conflicts)
	if policy != journal.PolicyLaterWins && policy != journal.PolicyReject {
		return usagef("--conflicts must be %s or %s, not %q", journal.PolicyLaterWins, journal.PolicyReject, c.conflicts)
	}
	dir, err := c.data.path(e)
	if err != nil {
		return err
	}
	bootstrap, err := c.net.bootstrapList()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if info, err := daemon.ReadInfo(dir); err == nil {
		if _, err := (&apiBackend{base: "http://" + info.HTTP, client: httpClient()}).List(ctx); err == nil {
			return fmt.Errorf("a daemon already runs on %s (pid %d, api %s)", dir, info.PID, info.HTTP)
		}
	}
	d, err := daemon.Start(ctx, daemon.Config{
		DataDir: dir, HTTPAddr: c.httpAddr, DHTAddr: c.net.listen, TorrentAddr: c.torrent,
		DownloadRate: c.downRate, UploadRate: c.upRate, JournalPolicy: policy,
		Bootstrap: bootstrap, Sync: c.sync, Debounce: c.debounce, Logger: c.net.logger(e),
		// The daemon never prompts: encrypted key files need DHTDB_PASSPHRASE.
		Passphrase: func() (string, error) {
			if p := e.getenv(passphraseEnv); p != "" {
				return p, nil
			}
			return "", errors.New("the key file is encrypted: start dhtdb serve with " + passphraseEnv)
		},
	})
	if err != nil {
		return err
	}
	emit := func(event string) error {
		ev := serveEvent{Event: event, Data: dir, Info: d.Info()}
		return c.out.print(e.stdout, ev, func(w io.Writer) {
			fmt.Fprintf(w, "%s: data %s, api http://%s, dht %s, torrent %s\n", ev.Event, ev.Data, ev.HTTP, ev.DHT, ev.Torrent)
		})
	}
	if err := emit("started"); err != nil {
		d.Close()
		return err
	}
	<-ctx.Done()
	err = d.Close()
	if perr := emit("stopped"); err == nil {
		err = perr
	}
	return err
}
