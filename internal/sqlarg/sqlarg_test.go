package sqlarg

import (
	"testing"

	"zombiezen.com/go/sqlite"
)

func TestBindTakesArgumentsInTurn(t *testing.T) {
	c, err := sqlite.OpenConn(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	args := []any{int64(7), "x", []byte{1}, nil, 2.5, true, 3}
	s1 := c.Prep("SELECT ?, ?")
	if err := Bind(s1, &args); err != nil {
		t.Fatal(err)
	}
	if len(args) != 5 {
		t.Fatalf("%d arguments left, want 5", len(args))
	}
	if row, err := s1.Step(); err != nil || !row {
		t.Fatalf("step: %v %v", row, err)
	}
	if got := s1.ColumnInt64(0); got != 7 {
		t.Errorf("column 0 = %d, want 7", got)
	}
	if got := s1.ColumnText(1); got != "x" {
		t.Errorf("column 1 = %q, want x", got)
	}
	s1.Reset()
	s2 := c.Prep("SELECT ?, ?, ?, ?, ?")
	if err := Bind(s2, &args); err != nil {
		t.Fatal(err)
	}
	if len(args) != 0 {
		t.Fatalf("%d arguments left, want 0", len(args))
	}
	if err := Bind(c.Prep("SELECT ?"), &args); err == nil {
		t.Error("binding with no arguments left succeeded")
	}
	bad := []any{struct{}{}}
	if err := Bind(c.Prep("SELECT ?1"), &bad); err == nil {
		t.Error("binding a struct succeeded")
	}
}
