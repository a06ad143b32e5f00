package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/keyfile"
)

// backend is where the database commands act: the API of a daemon running
// on the data directory, or the data directory itself when none runs
// (docs/PROTOCOL.md §9). Errors are ready for the one-line error output.
type backend interface {
	Create(ctx context.Context, name, keyFile string) (daemon.Status, error)
	// Follow records the database; with watch set it also waits until the
	// newest version known is installed (or ctx ends), calling watch with
	// each status seen. Without a daemon it always waits.
	Follow(ctx context.Context, ref string, watch func(daemon.Status)) (daemon.Status, error)
	Unfollow(ctx context.Context, ref string) error
	Status(ctx context.Context, ref string) (daemon.Status, error)
	List(ctx context.Context) ([]daemon.Status, error)
	Exec(ctx context.Context, ref, sql string, args []any) (db.ExecResult, error)
	Query(ctx context.Context, ref, sql string, args []any) (db.Rows, error)
	Publish(ctx context.Context, ref string) (db.PublishReport, error)
	Close() error
}

var (
	_ backend = (*apiBackend)(nil)
	_ backend = (*localBackend)(nil)
)

// openBackend returns the API of the daemon running on dir, else the data
// directory itself. A daemon.json left by a daemon that is gone is ignored.
func openBackend(ctx context.Context, e *env, dir string, nf netFlags) (backend, error) {
	if info, err := daemon.ReadInfo(dir); err == nil {
		api := &apiBackend{base: "http://" + info.HTTP, client: httpClient(), e: e}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := api.List(pctx)
		cancel()
		if err == nil {
			return api, nil
		}
	}
	return openLocal(e, dir, nf)
}

// apiBackend talks to a running daemon over its loopback HTTP API.
type apiBackend struct {
	base   string
	client *http.Client
	e      *env // asks for a key file's passphrase
}

func (a *apiBackend) Close() error { return nil }

// call sends one request and decodes the JSON answer into out; an error
// answer becomes an error with the daemon's message.
func (a *apiBackend) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("daemon: %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("daemon answer: %w", err)
	}
	return nil
}

func dbPath(ref string, suffix string) string {
	return "/v1/databases/" + url.PathEscape(ref) + suffix
}

// Create sends the key file's path, and its passphrase when it is
// encrypted (the daemon keeps the key in memory for publishing).
func (a *apiBackend) Create(ctx context.Context, name, keyFile string) (daemon.Status, error) {
	var st daemon.Status
	req := map[string]string{"name": name, "key_file": keyFile}
	if data, err := os.ReadFile(keyFile); err == nil && keyfile.IsEncrypted(data) && a.e != nil {
		pass, err := a.e.passphrase("passphrase for "+keyFile+": ", false)
		if err != nil {
			return st, err
		}
		req["passphrase"] = pass
	}
	err := a.call(ctx, http.MethodPost, "/v1/databases", req, &st)
	return st, err
}

func (a *apiBackend) Follow(ctx context.Context, ref string, watch func(daemon.Status)) (daemon.Status, error) {
	var st daemon.Status
	if err := a.call(ctx, http.MethodPost, "/v1/follow", map[string]string{"db": ref}, &st); err != nil || watch == nil {
		return st, err
	}
	// The address, not ref: a magnet is not a name the API resolves twice.
	last, err := waitSynced(ctx, func(ctx context.Context) (daemon.Status, error) { return a.Status(ctx, st.Address) }, watch)
	if err != nil && ctx.Err() == nil {
		return last, err
	}
	if last.Address != "" {
		st = last
	}
	return st, nil // when ctx ended, the status says how far it got
}

func (a *apiBackend) Unfollow(ctx context.Context, ref string) error {
	return a.call(ctx, http.MethodDelete, dbPath(ref, ""), nil, nil)
}

func (a *apiBackend) Status(ctx context.Context, ref string) (daemon.Status, error) {
	var st daemon.Status
	err := a.call(ctx, http.MethodGet, dbPath(ref, ""), nil, &st)
	return st, err
}

func (a *apiBackend) List(ctx context.Context) ([]daemon.Status, error) {
	var sts []daemon.Status
	err := a.call(ctx, http.MethodGet, "/v1/databases", nil, &sts)
	return sts, err
}

func (a *apiBackend) Exec(ctx context.Context, ref, sql string, args []any) (db.ExecResult, error) {
	var res db.ExecResult
	err := a.call(ctx, http.MethodPost, dbPath(ref, "/exec"), map[string]any{"sql": sql, "args": args}, &res)
	return res, err
}

func (a *apiBackend) Query(ctx context.Context, ref, sql string, args []any) (db.Rows, error) {
	var rows db.Rows
	err := a.call(ctx, http.MethodPost, dbPath(ref, "/query"), map[string]any{"sql": sql, "args": args}, &rows)
	return rows, err
}

func (a *apiBackend) Publish(ctx context.Context, ref string) (db.PublishReport, error) {
	var rep db.PublishReport
	err := a.call(ctx, http.MethodPost, dbPath(ref, "/publish"), struct{}{}, &rep)
	return rep, err
}

// httpClient talks to a daemon on loopback: never through a proxy.
func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil}}
}

// isAddress reports whether ref is a dhtdb:// address or magnet rather than
// a local name.
func isAddress(ref string) bool {
	return strings.HasPrefix(ref, "dhtdb:") || strings.HasPrefix(ref, "magnet:")
}
