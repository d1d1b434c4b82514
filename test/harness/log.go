package harness

import (
	"context"
	"fmt"
	"sync"
)

// Log keeps every item it is given, in order, and lets tests wait for one
// without sleeping.
type Log[T any] struct {
	mu     sync.Mutex
	items  []T
	notify chan struct{}
}

// Add appends an item and wakes the waiters.
func (l *Log[T]) Add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	if l.notify != nil {
		close(l.notify)
	}
	l.notify = make(chan struct{})
}

// All returns the items so far.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// Wait returns the first item, from the start of the log, that match
// accepts, waiting for it until ctx ends; what names it in the error.
func (l *Log[T]) Wait(ctx context.Context, what string, match func(T) bool) (T, error) {
	seen := 0
	for {
		l.mu.Lock()
		if l.notify == nil {
			l.notify = make(chan struct{})
		}
		items, ch := l.items[seen:], l.notify
		seen = len(l.items)
		l.mu.Unlock()
		for _, v := range items {
			if match(v) {
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%s not seen: %w", what, context.Cause(ctx))
		case <-ch:
		}
	}
}
