package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// Timings of the demo's daemons: short, so the story runs in seconds.
const (
	demoPoll         = 500 * time.Millisecond
	demoFetchTimeout = 3 * time.Second
	demoWait         = 90 * time.Second // the longest any step waits
)

// demoState is what the demo's steps share.
type demoState struct {
	dir     string
	nodes   int
	readers int
	logger  *slog.Logger

	lnet    *localNet
	client  *dht.Node // a plain DHT client, for looking at the pointer
	priv    ed25519.PrivateKey
	addr    record.Address
	writer  *daemon.Daemon
	rdrs    []*daemon.Daemon
	reports []db.PublishReport // by seq - 1
}

func (s *demoState) close() {
	for _, d := range append([]*daemon.Daemon{s.writer}, s.rdrs...) {
		if d != nil {
			d.Close()
		}
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.lnet != nil {
		s.lnet.Close()
	}
}

// demoSteps is the story the demo tells, in order. Each step is a function
// of the shared state; a new part of dhtdb adds its steps here.
func demoSteps() []demoStep {
	return []demoStep{
		{"network", stepNetwork},
		{"daemons", stepDaemons},
		{"create", stepCreate},
		{"publish v1", stepPublish(5000)},
		{"follow", stepFollow},
		{"publish v2", stepPublish(10)},
		{"sync v2", stepSync},
		{"query", stepQuery},
		{"writer leaves", stepWriterLeaves},
		{"fallback", stepFallback},
		{"writer back", stepWriterBack},
		{"republish", stepRepublish},
		{"replay", stepReplay},
	}
}

func stepNetwork(ctx context.Context, s *demoState) (string, map[string]any, error) {
	lnet, err := startLocalNet(ctx, s.nodes, "127.0.0.1:0", s.logger)
	if err != nil {
		return "", nil, err
	}
	s.lnet = lnet
	conn, err := listenUDP("127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	if s.client, err = dht.New(dht.Config{Conn: conn, Bootstrap: []string{lnet.bootstrap()}, ReadOnly: true, Logger: s.logger}); err != nil {
		conn.Close()
		return "", nil, err
	}
	if err := s.client.Bootstrap(ctx); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%d DHT nodes on real UDP sockets, bootstrap %s", s.nodes, lnet.bootstrap()),
		map[string]any{"nodes": s.nodes, "bootstrap": lnet.bootstrap()}, nil
}

// startDaemon starts a daemon (DHT node, torrent client, sync engine) on
// loopback with the data directory dir/name.
func (s *demoState) startDaemon(ctx context.Context, name string) (*daemon.Daemon, error) {
	return daemon.Start(ctx, daemon.Config{
		DataDir: filepath.Join(s.dir, name), HTTPAddr: "127.0.0.1:0", DHTAddr: "127.0.0.1:0", TorrentAddr: "127.0.0.1:0",
		Bootstrap: []string{s.lnet.bootstrap()}, Logger: s.logger.With("daemon", name),
		Sync: syncer.Config{PollInterval: demoPoll, FetchTimeout: demoFetchTimeout, RetryInterval: time.Second},
	})
}

func stepDaemons(ctx context.Context, s *demoState) (string, map[string]any, error) {
	var err error
	if s.writer, err = s.startDaemon(ctx, "writer"); err != nil {
		return "", nil, err
	}
	for i := range s.readers {
		r, err := s.startDaemon(ctx, fmt.Sprintf("reader%d", i+1))
		if err != nil {
			return "", nil, err
		}
		s.rdrs = append(s.rdrs, r)
	}
	return fmt.Sprintf("a writer and %d readers, each a daemon with its own DHT node, torrent client and data directory (polls every %v)",
		s.readers, demoPoll), map[string]any{"readers": s.readers, "poll_ms": ms(demoPoll)}, nil
}

func stepCreate(ctx context.Context, s *demoState) (string, map[string]any, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	s.priv = priv
	if s.addr, err = s.writer.Store().Create("demo", priv); err != nil {
		return "", nil, err
	}
	if err := s.writer.Runner().Add(s.addr); err != nil {
		return "", nil, err
	}
	d, err := s.writer.Store().DB(s.addr)
	if err != nil {
		return "", nil, err
	}
	if _, err := d.Exec(ctx, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("the writer's key owns %s", s.addr), map[string]any{"address": s.addr.String(), "magnet": s.addr.Magnet()}, nil
}

// stepPublish writes rows on the writer and publishes the next version.
func stepPublish(rows int) func(context.Context, *demoState) (string, map[string]any, error) {
	return func(ctx context.Context, s *demoState) (string, map[string]any, error) {
		if err := s.write(ctx, rows); err != nil {
			return "", nil, err
		}
		rep, err := s.writer.Runner().Publish(ctx, s.addr, s.priv)
		if err != nil {
			return "", nil, err
		}
		s.reports = append(s.reports, rep)
		return fmt.Sprintf("%d rows written; seq %d: snapshot %s (%d bytes) seeded, pointer stored on %d nodes",
				rows, rep.Seq, rep.IH, rep.Size, rep.Put.Stored),
			map[string]any{"rows": rows, "seq": rep.Seq, "ih": rep.IH.String(), "size": rep.Size, "stored": rep.Put.Stored}, nil
	}
}

// write inserts rows of about 200 bytes in one statement.
func (s *demoState) write(ctx context.Context, rows int) error {
	d, err := s.writer.Store().DB(s.addr)
	if err != nil {
		return err
	}
	_, err = d.Exec(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
		INSERT INTO notes (body) SELECT printf('note %d: %s', x, hex(randomblob(96))) FROM c`, rows)
	return err
}
