package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
)

// demoState is what the demo's steps share.
type demoState struct {
	dir    string
	nodes  int
	logger *slog.Logger

	lnet     *localNet
	writer   *dht.Node // the database owner's node
	reader   *dht.Node // a follower's node
	priv     ed25519.PrivateKey
	addr     record.Address
	db       *sqlite.Conn // the writer's live database
	rec      record.Record
	items    []bep44.Item // the signed pointers published, by seq - 1
	readerAt int64        // the seq the reader holds
}

func (s *demoState) close() {
	if s.db != nil {
		s.db.Close()
	}
	for _, n := range []*dht.Node{s.writer, s.reader} {
		if n != nil {
			n.Close()
		}
	}
	if s.lnet != nil {
		s.lnet.Close()
	}
}

// demoSteps is the story the demo tells, in order.
func demoSteps() []demoStep {
	return []demoStep{
		{"network", stepNetwork},
		{"key", stepKey},
		{"write v1", stepWrite(1, 50)},
		{"publish v1", stepPublish},
		{"read v1", stepRead},
		{"write v2", stepWrite(2, 50)},
		{"publish v2", stepPublish},
		{"poll", stepRead},
		{"poll again", stepPollUnchanged},
		{"replay", stepReplay},
	}
}

func stepNetwork(ctx context.Context, s *demoState) (string, map[string]any, error) {
	lnet, err := startLocalNet(ctx, s.nodes, "127.0.0.1:0", s.logger)
	if err != nil {
		return "", nil, err
	}
	s.lnet = lnet
	join := func(name string) (*dht.Node, error) {
		conn, err := listenUDP("127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		n, err := dht.New(dht.Config{Conn: conn, Bootstrap: []string{lnet.bootstrap()}, Logger: s.logger.With("node", name)})
		if err != nil {
			conn.Close()
			return nil, err
		}
		if err := n.Bootstrap(ctx); err != nil {
			n.Close()
			return nil, fmt.Errorf("%s joins: %w", name, err)
		}
		return n, nil
	}
	if s.writer, err = join("writer"); err != nil {
		return "", nil, err
	}
	if s.reader, err = join("reader"); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%d DHT nodes on real UDP sockets (bootstrap %s), a writer and a reader joined; routing tables: writer %d, reader %d nodes",
			s.nodes, lnet.bootstrap(), s.writer.Stats().Nodes, s.reader.Stats().Nodes),
		map[string]any{"nodes": s.nodes, "bootstrap": lnet.bootstrap()}, nil
}

func stepKey(ctx context.Context, s *demoState) (string, map[string]any, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	s.priv = priv
	if s.addr, err = record.NewAddress(pub, "demo"); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("the owner's ed25519 key names the database %s", s.addr),
		map[string]any{"address": s.addr.String(), "magnet": s.addr.Magnet(), "target": fmt.Sprintf("%x", s.addr.Target())}, nil
}

// stepWrite adds rows to the writer's SQLite database and snapshots it: the
// snapshot's infohash is what the next pointer names.
func stepWrite(version, rows int) func(context.Context, *demoState) (string, map[string]any, error) {
	return func(ctx context.Context, s *demoState) (string, map[string]any, error) {
		if s.db == nil {
			conn, err := sqlite.OpenConn(filepath.Join(s.dir, "demo.db"), sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
			if err != nil {
				return "", nil, err
			}
			s.db = conn
			if err := sqlitex.ExecuteTransient(conn, "CREATE TABLE notes (id INTEGER PRIMARY KEY, version INTEGER, body TEXT)", nil); err != nil {
				return "", nil, err
			}
		}
		for i := range rows {
			err := sqlitex.Execute(s.db, "INSERT INTO notes (version, body) VALUES (?, ?)",
				&sqlitex.ExecOptions{Args: []any{version, fmt.Sprintf("note %d of version %d", i, version)}})
			if err != nil {
				return "", nil, err
			}
		}
		snap := filepath.Join(s.dir, fmt.Sprintf("demo-v%d.sqlite", version))
		if err := snapshot.CreateFromConn(ctx, s.db, snap); err != nil {
			return "", nil, err
		}
		info, err := snapshot.NewInfo(ctx, snap, db.TorrentName(s.addr.Name))
		if err != nil {
			return "", nil, err
		}
		ih, err := snapshot.InfoHash(info)
		if err != nil {
			return "", nil, err
		}
		s.rec = record.Next(s.rec, ih, info.Length, time.Now())
		return fmt.Sprintf("%d rows into the SQLite database, snapshot %d bytes, infohash %x", rows, info.Length, ih[:]),
			map[string]any{"rows": rows, "size": info.Length, "ih": fmt.Sprintf("%x", ih[:])}, nil
	}
}

// stepPublish signs the next pointer (seq + 1, cas = previous seq) and puts it.
func stepPublish(ctx context.Context, s *demoState) (string, map[string]any, error) {
	v, err := s.rec.Encode()
	if err != nil {
		return "", nil, err
	}
	seq := int64(len(s.items)) + 1
	it, err := bep44.NewMutable(s.priv, s.addr.Salt(), seq, v)
	if err != nil {
		return "", nil, err
	}
	opts := dht.PutOptions{CAS: seq - 1, HasCAS: seq > 1}
	rep, err := s.writer.Put(ctx, it, opts)
	if err != nil {
		return "", nil, err
	}
	s.items = append(s.items, it)
	return fmt.Sprintf("pointer seq %d (%d bytes, %d earlier versions) stored on %d nodes, %d timed out, %d queries",
			seq, len(v), len(s.rec.Prev), rep.Stored, rep.TimedOut, rep.Msgs),
		map[string]any{"seq": seq, "bytes": len(v), "stored": rep.Stored, "timed_out": rep.TimedOut, "msgs": rep.Msgs}, nil
}

// stepRead is the reader's poll: a get carrying the seq it holds, so
// nodes send the value only when they have a newer one.
func stepRead(ctx context.Context, s *demoState) (string, map[string]any, error) {
	got, err := s.reader.Get(ctx, dht.GetRequest{PublicKey: s.addr.PublicKey[:], Salt: s.addr.Salt(), MinSeq: s.readerAt})
	if err != nil {
		return "", nil, err
	}
	rec, err := record.Decode(got.Item.V)
	if err != nil {
		return "", nil, err
	}
	if got.Item.Seq != int64(len(s.items)) || rec.IH != s.rec.IH {
		return "", nil, fmt.Errorf("reader got seq %d ih %x, want seq %d ih %x", got.Item.Seq, rec.IH, len(s.items), s.rec.IH)
	}
	s.readerAt = got.Item.Seq
	return fmt.Sprintf("reader found seq %d on %d of %d closest nodes (%d queries): ih %x, %d bytes, fallbacks %d",
			got.Item.Seq, got.Found, got.Closest, got.Msgs, rec.IH[:], rec.Size, len(rec.Prev)),
		map[string]any{"seq": got.Item.Seq, "found": got.Found, "closest": got.Closest, "msgs": got.Msgs, "ih": fmt.Sprintf("%x", rec.IH[:])}, nil
}

// stepPollUnchanged: a poll with nothing new costs answers without values.
func stepPollUnchanged(ctx context.Context, s *demoState) (string, map[string]any, error) {
	got, err := s.reader.Get(ctx, dht.GetRequest{PublicKey: s.addr.PublicKey[:], Salt: s.addr.Salt(), MinSeq: s.readerAt})
	if err != nil {
		return "", nil, err
	}
	if got.Item.Seq != s.readerAt {
		return "", nil, fmt.Errorf("unchanged pointer came back as seq %d, want %d", got.Item.Seq, s.readerAt)
	}
	return fmt.Sprintf("nothing newer than seq %d: %d of %d closest nodes hold it and answer without the value (%d queries)",
			s.readerAt, got.Found, got.Closest, got.Msgs),
		map[string]any{"seq": got.Item.Seq, "found": got.Found, "closest": got.Closest, "msgs": got.Msgs}, nil
}

// stepReplay re-puts the old signed seq 1 pointer, as an attacker replaying
// it would: every node that holds seq 2 refuses it (BEP 44 code 302).
func stepReplay(ctx context.Context, s *demoState) (string, map[string]any, error) {
	rep, err := s.reader.Put(ctx, s.items[0], dht.PutOptions{})
	refused := rep.Rejected[bep44.CodeSeqTooLow]
	if refused == 0 {
		return "", nil, fmt.Errorf("no node refused a replay of seq 1 (stored on %d): %v", rep.Stored, err)
	}
	if err != nil && !errors.Is(err, dht.ErrSeqTooLow) {
		return "", nil, fmt.Errorf("replay failed for another reason: %w", err)
	}
	detail := fmt.Sprintf("a replay of the signed seq 1 pointer is refused by %d nodes (302: seq lower than current)", refused)
	if rep.Stored > 0 {
		detail += fmt.Sprintf("; %d nodes that held nothing took it, and readers still pick seq %d", rep.Stored, len(s.items))
	}
	return detail, map[string]any{"rejected_302": refused, "stored": rep.Stored}, nil
}
