// Package localstacktest starts private Redis and PostgreSQL servers for
// tests: in temporary directories, on free ports, stopped and removed when the
// test ends. A missing server binary fails the test, naming the package to
// install; nothing is skipped.
package localstacktest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/localstack"
)

// TempDir returns a new directory that server users can enter (mode 0711,
// unlike t.TempDir's parents) and removes it when the test ends, after the
// servers started in it have been stopped by their own cleanups.
func TempDir(tb testing.TB) string {
	tb.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, tb.Name())
	if len(name) > 24 { // unix socket paths are short
		name = name[:24]
	}
	dir, err := os.MkdirTemp("", "ccd-"+name+"-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o711); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// StartRedis starts an attached Redis in a new TempDir on a free port and
// stops it when the test ends.
func StartRedis(tb testing.TB, opts ...localstack.Option) *localstack.Redis {
	tb.Helper()
	dir := TempDir(tb)
	r := start(tb, "redis", func(ctx context.Context, port int) (*localstack.Redis, error) {
		return localstack.StartRedis(ctx, dir, port, opts...)
	})
	stopAtCleanup(tb, r.Stop, r.LogPath())
	return r
}

// StartPostgres starts an attached PostgreSQL, fsync off unless opts say
// otherwise, in a new TempDir on a free port and stops it when the test ends.
func StartPostgres(tb testing.TB, opts ...localstack.Option) *localstack.Postgres {
	tb.Helper()
	dir := TempDir(tb)
	opts = append([]localstack.Option{localstack.Fsync(false)}, opts...)
	p := start(tb, "postgres", func(ctx context.Context, port int) (*localstack.Postgres, error) {
		return localstack.StartPostgres(ctx, dir, port, opts...)
	})
	stopAtCleanup(tb, p.Stop, p.LogPath())
	return p
}

// start tries a few free ports: another process may take one between
// FreePort and the server's bind.
func start[T any](tb testing.TB, what string, fn func(context.Context, int) (T, error)) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	for range 3 {
		var port int
		if port, err = localstack.FreePort(); err != nil {
			break
		}
		var s T
		if s, err = fn(ctx, port); err == nil {
			return s
		}
		if !errors.Is(err, localstack.ErrPortInUse) {
			break
		}
	}
	tb.Fatalf("start %s: %v", what, err)
	panic("unreachable")
}

func stopAtCleanup(tb testing.TB, stop func(context.Context) error, logPath string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stop(ctx); err != nil {
			tb.Errorf("stop: %v", err)
		}
		if tb.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				tb.Logf("%s:\n%s", logPath, b)
			}
		}
	})
}
