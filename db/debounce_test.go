package db

import (
	"testing"
	"time"
)

func TestDebounce(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	d := Debounce{Delay: 2 * time.Second, MaxDelay: 10 * time.Second}
	if d.Pending() || d.IsDue(at(100)) {
		t.Fatal("fresh debounce is pending")
	}
	// A burst of writes 0.5 s apart: one publish, 2 s after the last.
	for i := range 5 {
		d.Wrote(at(float64(i) * 0.5))
	}
	if d.IsDue(at(3.9)) {
		t.Error("due 1.9 s after the last write of a burst")
	}
	if !d.IsDue(at(4)) {
		t.Error("not due 2 s after the last write")
	}
	d.Started(at(4))
	if d.Pending() {
		t.Error("still pending after the publish started")
	}
	// A steady stream, a write every second: MaxDelay forces a publish.
	for i := 10; i <= 30; i++ {
		d.Wrote(at(float64(i)))
		if d.IsDue(at(float64(i))) {
			if i != 20 {
				t.Errorf("due at %d s, want at 20 s (first write at 10 s + 10 s)", i)
			}
			d.Started(at(float64(i)))
		}
	}
	// A failed publish makes its writes pending again, due after Delay.
	d = Debounce{Delay: time.Second}
	d.Wrote(at(0))
	d.Started(at(1))
	d.Failed(at(1), at(5))
	if d.IsDue(at(5.5)) || !d.IsDue(at(6)) {
		t.Error("a failed publish is not retried Delay after the failure")
	}
	if (&Debounce{Delay: -1}).Validate() == nil {
		t.Error("negative delay accepted")
	}
}
