package ivr

import (
	"context"
	"sync"
	"time"
)

// Keys buffers DTMF keys as they arrive, so a key pressed during a prompt is
// kept for the next collection instead of being lost.
type Keys struct {
	mu     sync.Mutex
	keys   []rune
	notify chan struct{}
}

// NewKeys returns an empty buffer.
func NewKeys() *Keys {
	return &Keys{notify: make(chan struct{}, 1)}
}

// Push appends a key and wakes a waiting reader.
func (k *Keys) Push(key rune) {
	k.mu.Lock()
	k.keys = append(k.keys, key)
	k.mu.Unlock()
	select {
	case k.notify <- struct{}{}:
	default:
	}
}

// Len is the number of buffered keys.
func (k *Keys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

// terminatorGrace bounds the wait for a terminator after the last digit.
const terminatorGrace = time.Second

// swallowTerminator runs when a collection is full: callers press the
// terminator out of habit anyway, and it must not cut the next prompt short.
// It waits briefly for the next key and drops it if it is the terminator;
// any other key stays buffered for what comes next.
func (k *Keys) swallowTerminator(ctx context.Context, spec DigitSpec) {
	if spec.Terminator == 0 {
		return
	}
	wait := min(spec.InterTimeout, terminatorGrace)
	if wait <= 0 {
		wait = terminatorGrace
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		k.mu.Lock()
		if len(k.keys) > 0 {
			if k.keys[0] == spec.Terminator {
				k.keys = k.keys[1:]
			}
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-k.notify:
		}
	}
}

// DropLast removes the newest buffered key if it is key.
func (k *Keys) DropLast(key rune) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := len(k.keys); n > 0 && k.keys[n-1] == key {
		k.keys = k.keys[:n-1]
	}
}

// Arrived is signalled after a Push; check Len after it fires.
func (k *Keys) Arrived() <-chan struct{} { return k.notify }

func (k *Keys) pop() (rune, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return 0, false
	}
	r := k.keys[0]
	k.keys = k.keys[1:]
	return r, true
}

// Collect reads keys by spec. It returns ctx's cause if the call ends first.
func (k *Keys) Collect(ctx context.Context, spec DigitSpec) (Digits, error) {
	var got []rune
	timer := time.NewTimer(spec.FirstTimeout)
	defer timer.Stop()
	for {
		for {
			r, ok := k.pop()
			if !ok {
				break
			}
			if spec.Terminator != 0 && r == spec.Terminator {
				return Digits{Keys: string(got), End: EndTerminator}, nil
			}
			got = append(got, r)
			if spec.Max > 0 && len(got) >= spec.Max {
				k.swallowTerminator(ctx, spec)
				return Digits{Keys: string(got), End: EndMax}, nil
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(spec.InterTimeout)
		}
		select {
		case <-ctx.Done():
			return Digits{Keys: string(got)}, context.Cause(ctx)
		case <-k.notify:
		case <-timer.C:
			if len(got) == 0 {
				return Digits{End: EndNoInput}, nil
			}
			return Digits{Keys: string(got), End: EndTimeout}, nil
		}
	}
}
