// Package leakcheck tells tests whether work left goroutines or open files
// behind.
package leakcheck

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// Run runs work twice: the first round warms up lazily started runtime and
// library goroutines, and the second must leave the goroutine and file
// descriptor counts where it found them (within a few seconds).
func Run(t *testing.T, work func()) {
	t.Helper()
	work()
	settle()
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	work()
	deadline := time.Now().Add(5 * time.Second)
	for {
		settle()
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("left behind: %d goroutines (was %d), %d fds (was %d)\n%s", g, goroutines, f, fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func settle() {
	for range 3 {
		runtime.GC()
		runtime.Gosched()
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting file descriptors needs /proc: %v", err)
	}
	return len(ents)
}
