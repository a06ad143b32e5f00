package clock

import (
	"testing"
	"time"
)

func TestFakeRunsTimersInOrder(t *testing.T) {
	c := NewFake(time.Unix(1000, 0))
	var got []int
	c.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	c.AfterFunc(1*time.Second, func() { got = append(got, 1) })
	stopped := c.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	c.AfterFunc(1500*time.Millisecond, func() {
		if now := c.Now(); !now.Equal(time.Unix(1001, 5e8)) {
			t.Errorf("callback saw %v, want its deadline", now)
		}
		c.AfterFunc(time.Second, func() { got = append(got, 25) })
	})
	c.Advance(2500 * time.Millisecond)
	if len(got) != 2 || got[0] != 1 || got[1] != 25 {
		t.Fatalf("after 2.5s got %v, want [1 25]", got)
	}
	c.Advance(time.Second)
	if len(got) != 3 || got[2] != 3 {
		t.Fatalf("after 3.5s got %v, want [1 25 3]", got)
	}
	if now := c.Now(); !now.Equal(time.Unix(1003, 5e8)) {
		t.Fatalf("Now = %v", now)
	}
}
