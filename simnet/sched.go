package simnet

import (
	"container/heap"
	"net/netip"
	"sync"
	"time"
)

// packet is one datagram in flight or queued at its receiver.
type packet struct {
	from, to netip.AddrPort
	data     []byte
}

// scheduler delivers packets at their due time from one goroutine, so that
// tens of thousands of packets per second cost a heap push and pop each
// instead of a timer and a goroutine each.
type scheduler struct {
	deliver func(packet)

	mu      sync.Mutex
	h       pending
	seq     uint64
	stopped bool

	wake chan struct{} // capacity 1: "the earliest deadline changed"
	done chan struct{}
	wg   sync.WaitGroup
}

func newScheduler(deliver func(packet)) *scheduler {
	s := &scheduler{
		deliver: deliver,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	s.wg.Add(1)
	go s.run()
	return s
}

// push schedules pk for delivery at t; false means the scheduler has
// stopped. Packets due at the same time are delivered in push order.
func (s *scheduler) push(t time.Time, pk packet) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	s.seq++
	heap.Push(&s.h, item{at: t, seq: s.seq, pk: pk})
	first := s.h[0].seq == s.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// stop ends the delivery goroutine and discards what is pending.
func (s *scheduler) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.h = nil
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
}

func (s *scheduler) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []packet
	for {
		s.mu.Lock()
		now := time.Now()
		for len(s.h) > 0 && !s.h[0].at.After(now) {
			batch = append(batch, heap.Pop(&s.h).(item).pk)
		}
		wait := time.Duration(-1)
		if len(s.h) > 0 {
			wait = s.h[0].at.Sub(now)
		}
		s.mu.Unlock()
		if len(batch) > 0 {
			for i, pk := range batch {
				s.deliver(pk)
				batch[i] = packet{}
			}
			batch = batch[:0]
			continue
		}
		if wait < 0 {
			select {
			case <-s.wake:
			case <-s.done:
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			timer.Stop()
		case <-s.done:
			timer.Stop()
			return
		}
	}
}

type item struct {
	at  time.Time
	seq uint64
	pk  packet
}

// pending is a min-heap of items by (at, seq).
type pending []item

func (h pending) Len() int { return len(h) }
func (h pending) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h pending) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pending) Push(x any)   { *h = append(*h, x.(item)) }
func (h *pending) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = item{}
	*h = old[:len(old)-1]
	return it
}
