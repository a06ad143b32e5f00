package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhtdb/dhtdb/keyfile"
)

type apiClient struct {
	t   *testing.T
	url string
}

func (n *testNode) serveAPI(t *testing.T) *apiClient {
	api := &API{Store: n.store, Runner: n.runner, LoadKey: keyfile.Load}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &apiClient{t: t, url: srv.URL}
}

// do sends a request and decodes the JSON answer into out; it returns the
// HTTP status.
func (c *apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = string(b)
		} else if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestAPI(t *testing.T) {
	n := newTestNet(t)
	keyPath := filepath.Join(t.TempDir(), "owner.key")
	if err := keyfile.Write(keyPath, n.key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	w := n.start(t, "", fast()).serveAPI(t)
	r := n.start(t, "", fast()).serveAPI(t)

	var st Status
	if code := w.do("POST", "/v1/databases", map[string]string{"name": "shop", "key_file": keyPath}, &st); code != 200 || st.Role != "owner" {
		t.Fatalf("create: %d %+v", code, st)
	}
	var res map[string]any
	if code := w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "CREATE TABLE t(x, y); INSERT INTO t VALUES (?, ?)", "args": []any{1, "one"}}, &res); code != 200 || res["changes"] != 1.0 {
		t.Fatalf("exec: %d %v", code, res)
	}
	var rep map[string]any
	if code := w.do("POST", "/v1/databases/shop/publish", nil, &rep); code != 200 || rep["seq"] != 1.0 {
		t.Fatalf("publish: %d %v", code, rep)
	}

	if code := r.do("POST", "/v1/follow", map[string]string{"db": st.Magnet}, &st); code != 200 || st.Role != "follower" {
		t.Fatalf("follow: %d %+v", code, st)
	}
	esc := url.PathEscape(st.Address)
	eventually(t, "the reader to see the row", func() bool {
		var rows struct {
			Rows [][]any `json:"rows"`
		}
		code := r.do("POST", "/v1/databases/"+esc+"/query", map[string]any{"sql": "SELECT y FROM t WHERE x = ?", "args": []any{1}}, &rows)
		return code == 200 && len(rows.Rows) == 1 && rows.Rows[0][0] == "one"
	})
	// Writes through the API are published automatically.
	w.do("POST", "/v1/databases/shop/exec", map[string]any{"sql": "INSERT INTO t VALUES (2, 'two')"}, nil)
	eventually(t, "the automatic publish to reach the reader", func() bool {
		var rows struct {
			Rows [][]any `json:"rows"`
		}
		r.do("POST", "/v1/databases/shop/query", map[string]any{"sql": "SELECT count(*) FROM t"}, &rows)
		return len(rows.Rows) == 1 && rows.Rows[0][0] == 2.0
	})
	var list []Status
	if code := r.do("GET", "/v1/databases", nil, &list); code != 200 || len(list) != 1 || list[0].Seq != 2 {
		t.Errorf("list: %d %+v", code, list)
	}
	var metrics string
	if code := r.do("GET", "/metrics", nil, &metrics); code != 200 || !strings.Contains(metrics, "dhtdb_polls_total") {
		t.Errorf("metrics: %d %q", code, metrics)
	}

	// Errors: each a clear message with a fitting status.
	var e map[string]string
	for _, c := range []struct {
		node         *apiClient
		method, path string
		body         any
		code         int
	}{
		{r, "POST", "/v1/databases/shop/exec", map[string]any{"sql": "DELETE FROM t"}, 403},
		{r, "POST", "/v1/databases/shop/publish", nil, 403},
		{r, "POST", "/v1/databases/nothing/query", map[string]any{"sql": "SELECT 1"}, 404},
		{r, "POST", "/v1/follow", map[string]string{"db": "dhtdb://zz/x"}, 400},
		{w, "POST", "/v1/databases/shop/query", map[string]any{"sql": "DELETE FROM t"}, 400},
		{w, "POST", "/v1/databases/shop/exec", "not an object", 400},
		{w, "POST", "/v1/databases", map[string]string{"name": "shop", "key_file": keyPath}, 409},
		{w, "DELETE", "/v1/databases/shop", nil, 409},
	} {
		e = nil
		if code := c.node.do(c.method, c.path, c.body, &e); code != c.code || e["error"] == "" {
			t.Errorf("%s %s: %d %v, want %d with an error", c.method, c.path, code, e, c.code)
		}
	}
	if code := r.do("DELETE", "/v1/databases/shop", nil, nil); code != 200 {
		t.Errorf("unfollow: %d", code)
	}
	if code := r.do("GET", "/v1/databases/shop", nil, &e); code != 404 {
		t.Errorf("status after unfollow: %d", code)
	}
}
