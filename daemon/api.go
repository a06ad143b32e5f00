package daemon

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
)

// API is the HTTP/JSON interface of a running daemon (loopback only). Routes:
//
//	GET    /v1/databases                 statuses of every database
//	POST   /v1/databases                 create {"name","key_file","passphrase"} -> status
//	POST   /v1/follow                    follow {"db": address} -> status; with "key_file"
//	                                     (and "passphrase"): join as another writer
//	GET    /v1/databases/{db}            status of one database
//	DELETE /v1/databases/{db}            unfollow
//	POST   /v1/databases/{db}/query      {"sql","args"} -> {"columns","rows"}
//	POST   /v1/databases/{db}/exec       {"sql","args"} -> {"changes","last_insert_id"}
//	POST   /v1/databases/{db}/publish    -> publish report
//	GET    /metrics                      Prometheus text format
//
// {db} is a dhtdb:// address or magnet (URL-escaped), or a local name.
// Errors are {"error": "..."} with a 4xx/5xx status.
type API struct {
	Store  *db.Store
	Runner *Runner
	// Passphrase unlocks encrypted key files when a request brings none
	// (the daemon's DHTDB_PASSPHRASE). nil: only plaintext key files.
	Passphrase func() (string, error)
	// LoadKey reads a key file (keyfile.Load). Required.
	LoadKey func(path string, passphrase func() (string, error)) (ed25519.PrivateKey, error)
	Logger  *slog.Logger

	mu   sync.Mutex
	keys map[record.Address]ed25519.PrivateKey
}

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/databases", a.list)
	mux.HandleFunc("POST /v1/databases", a.create)
	mux.HandleFunc("POST /v1/follow", a.follow)
	mux.HandleFunc("GET /v1/databases/{db}", a.status)
	mux.HandleFunc("DELETE /v1/databases/{db}", a.unfollow)
	mux.HandleFunc("POST /v1/databases/{db}/query", a.query)
	mux.HandleFunc("POST /v1/databases/{db}/exec", a.exec)
	mux.HandleFunc("POST /v1/databases/{db}/publish", a.publish)
	mux.HandleFunc("GET /metrics", a.metrics)
	return mux
}

// maxBody caps request bodies.
const maxBody = 1 << 20

type sqlRequest struct {
	SQL  string `json:"sql"`
	Args []any  `json:"args"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	addrs, err := a.Store.List()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]Status, 0, len(addrs))
	for _, ad := range addrs {
		if st, err := a.Runner.Status(ad); err == nil {
			out = append(out, st)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name       string `json:"name"`
		KeyFile    string `json:"key_file"`
		Passphrase string `json:"passphrase"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.KeyFile == "" {
		writeError(w, http.StatusBadRequest, errors.New("create needs key_file"))
		return
	}
	key, err := a.LoadKey(req.KeyFile, a.passphrase(req.Passphrase))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("load key: %w", err))
		return
	}
	addr, err := a.Store.Create(req.Name, key)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	d, err := a.Store.DB(addr)
	if err == nil {
		err = d.SetKeyFile(req.KeyFile)
	}
	if err == nil {
		err = a.Runner.Add(addr)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	a.rememberKey(addr, key)
	a.writeStatus(w, addr)
}

// passphrase returns the passphrase source for a key file: the request's,
// else the daemon's.
func (a *API) passphrase(given string) func() (string, error) {
	switch {
	case given != "":
		return func() (string, error) { return given, nil }
	case a.Passphrase != nil:
		return a.Passphrase
	}
	return func() (string, error) { return "", errors.New("the key file is encrypted and no passphrase was given") }
}

func (a *API) rememberKey(addr record.Address, key ed25519.PrivateKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		a.keys = map[record.Address]ed25519.PrivateKey{}
	}
	a.keys[addr] = key
}

func (a *API) follow(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DB         string `json:"db"`
		KeyFile    string `json:"key_file"`   // join as another writer holding the key
		Passphrase string `json:"passphrase"` // of an encrypted key file
	}
	if !readJSON(w, r, &req) {
		return
	}
	addr, err := record.ParseAddress(req.DB)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if req.KeyFile != "" {
		key, err := a.LoadKey(req.KeyFile, a.passphrase(req.Passphrase))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("load key: %w", err))
			return
		}
		d, err := a.Store.Join(addr, key)
		if err == nil {
			err = d.SetKeyFile(req.KeyFile)
		}
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		a.rememberKey(addr, key)
	} else if _, err := a.Store.Follow(addr); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if err := a.Runner.Add(addr); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	a.writeStatus(w, addr)
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	d, ok := a.db(w, r)
	if ok {
		a.writeStatus(w, d.Address())
	}
}

func (a *API) writeStatus(w http.ResponseWriter, addr record.Address) {
	st, err := a.Runner.Status(addr)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) unfollow(w http.ResponseWriter, r *http.Request) {
	d, ok := a.db(w, r)
	if !ok {
		return
	}
	if d.Role() == db.RoleOwner {
		writeError(w, http.StatusConflict, errors.New("this node owns the database; it cannot be unfollowed"))
		return
	}
	a.Runner.Remove(d.Address())
	if err := a.Store.Unfollow(d.Address()); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"unfollowed": d.Address().String()})
}

func (a *API) query(w http.ResponseWriter, r *http.Request) {
	d, ok := a.db(w, r)
	var req sqlRequest
	if !ok || !readJSON(w, r, &req) {
		return
	}
	rows, err := d.Query(r.Context(), req.SQL, req.Args...)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func (a *API) exec(w http.ResponseWriter, r *http.Request) {
	d, ok := a.db(w, r)
	var req sqlRequest
	if !ok || !readJSON(w, r, &req) {
		return
	}
	res, err := d.Exec(r.Context(), req.SQL, req.Args...)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	a.Runner.Wrote(d.Address())
	writeJSON(w, http.StatusOK, res)
}

func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	d, ok := a.db(w, r)
	if !ok {
		return
	}
	key, err := a.Key(d)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	rep, err := a.Runner.Publish(r.Context(), d.Address(), key)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (a *API) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	if err := a.Runner.cfg.Metrics.WritePrometheus(w, a.Runner.Statuses()); err != nil && a.Logger != nil {
		a.Logger.Warn("write metrics", "err", err)
	}
}

// Key returns the private key of a database this node owns, loading the key
// file recorded at create (once; then kept in memory).
func (a *API) Key(d *db.DB) (ed25519.PrivateKey, error) {
	a.mu.Lock()
	key := a.keys[d.Address()]
	a.mu.Unlock()
	if key != nil {
		return key, nil
	}
	st := d.State()
	if st.Role != db.RoleOwner {
		return nil, fmt.Errorf("%w: %s", db.ErrNotOwner, d.Address())
	}
	if st.KeyFile == "" {
		return nil, fmt.Errorf("%w: no key file recorded for %s", db.ErrNotOwner, d.Address())
	}
	key, err := a.LoadKey(st.KeyFile, a.passphrase(""))
	if err != nil {
		return nil, fmt.Errorf("load key of %s: %w", d.Address(), err)
	}
	a.rememberKey(d.Address(), key)
	return key, nil
}

// db resolves the {db} path value: an address, a magnet or a local name.
func (a *API) db(w http.ResponseWriter, r *http.Request) (*db.DB, bool) {
	ref := r.PathValue("db")
	var d *db.DB
	var err error
	if strings.HasPrefix(ref, "dhtdb:") || strings.HasPrefix(ref, "magnet:") {
		var addr record.Address
		if addr, err = record.ParseAddress(ref); err == nil {
			d, err = a.Store.DB(addr)
		}
	} else {
		d, err = a.Store.Find(ref)
	}
	if err != nil {
		writeError(w, statusOf(err), err)
		return nil, false
	}
	return d, true
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad request body: %w", err))
		return false
	}
	if req, ok := v.(*sqlRequest); ok {
		for i, arg := range req.Args {
			req.Args[i] = jsonArg(arg)
		}
	}
	return true
}

// jsonArg turns a decoded JSON value into a SQL argument: integers stay
// integers.
func jsonArg(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, db.ErrExists), errors.Is(err, db.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, db.ErrNotOwner):
		return http.StatusForbidden
	case errors.Is(err, db.ErrNoVersion), errors.Is(err, db.ErrOffline):
		return http.StatusServiceUnavailable
	case errors.Is(err, record.ErrBadAddress):
		return http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadRequest
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
