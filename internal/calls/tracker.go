package calls

import (
	"context"
	"errors"
	"sync"
)

// ErrDraining is returned when a new call arrives after shutdown began.
var ErrDraining = errors.New("ccd is shutting down: not taking new calls")

// Tracker runs one goroutine per call and refuses new ones once draining.
type Tracker struct {
	mu       sync.Mutex
	draining bool
	active   int
	wg       sync.WaitGroup
}

// Go runs fn in a tracked goroutine, unless draining.
func (t *Tracker) Go(fn func()) error {
	t.mu.Lock()
	if t.draining {
		t.mu.Unlock()
		return ErrDraining
	}
	t.active++
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.done()
		fn()
	}()
	return nil
}

func (t *Tracker) done() {
	t.mu.Lock()
	t.active--
	t.mu.Unlock()
	t.wg.Done()
}

// Active counts the calls in progress.
func (t *Tracker) Active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active
}

// Draining tells whether new calls are refused.
func (t *Tracker) Draining() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.draining
}

// Drain stops new calls and waits for the running ones until ctx ends.
func (t *Tracker) Drain(ctx context.Context) error {
	t.mu.Lock()
	t.draining = true
	t.mu.Unlock()
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
