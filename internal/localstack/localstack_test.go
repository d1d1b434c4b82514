package localstack_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/ccd-platform/ccd/internal/localstack"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
)

// The caller tests run this test binary as a separate process, a "CLI",
// that starts a server (attached or detached), prints its PID and exits.
const helperEnv = "LOCALSTACK_TEST_CALLER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(callerHelper(spec))
	}
	os.Exit(m.Run())
}

// callerHelper takes "KIND:detached|attached:PORT:DIR".
func callerHelper(spec string) int {
	parts := strings.SplitN(spec, ":", 4)
	if len(parts) != 4 {
		fmt.Fprintf(os.Stderr, "bad spec %q\n", spec)
		return 2
	}
	port, _ := strconv.Atoi(parts[2])
	detached := localstack.Detached(parts[1] == "detached")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pid := 0
	switch parts[0] {
	case "redis":
		r, err := localstack.StartRedis(ctx, parts[3], port, detached)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pid = r.PID()
	case "postgres":
		p, err := localstack.StartPostgres(ctx, parts[3], port, detached, localstack.Fsync(false))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pid = p.PID()
	}
	fmt.Println(pid)
	return 0
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// requireGone fails unless pid has exited and been reaped.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still exists after Stop (kill 0: %v)", pid, err)
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range 20 {
		port, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d returned twice", port)
		}
		if port < 1024 {
			t.Fatalf("port %d is privileged", port)
		}
		seen[port] = true
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("tcp %s: %v", addr, err)
		}
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("udp %s: %v", addr, err)
		}
		l.Close()
		u.Close()
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	r := localstacktest.StartRedis(t)
	if r.Reused {
		t.Error("fresh server reported as reused")
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if err := c.Set(ctx, "queue:sales:depth", "7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "queue:sales:depth").Result(); err != nil || got != "7" {
		t.Fatalf("GET = %q, %v; want 7", got, err)
	}

	// The append-only file holds the write (appended before the reply).
	aof := filepath.Join(r.Dir, "appendonlydir")
	incr, err := filepath.Glob(filepath.Join(aof, "*.incr.aof"))
	if err != nil || len(incr) != 1 {
		t.Fatalf("incr AOF in %s: %v, %v", aof, incr, err)
	}
	if b, err := os.ReadFile(incr[0]); err != nil || !strings.Contains(string(b), "queue:sales:depth") {
		t.Fatalf("AOF %s lacks the key: %q, %v", incr[0], b, err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "redis.pid")); err != nil {
		t.Errorf("pidfile: %v", err)
	}

	pid := r.PID()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	requireGone(t, pid)
	if err := r.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// Same dir and port again: the data comes back from the AOF.
	r2, err := localstack.StartRedis(ctx, r.Dir, r.Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r2.Stop(context.Background()) })
	if r2.Reused || r2.PID() == pid {
		t.Errorf("restart: reused=%v pid %d (old %d)", r2.Reused, r2.PID(), pid)
	}
	c2 := redis.NewClient(&redis.Options{Addr: r2.Addr})
	defer c2.Close()
	if got, err := c2.Get(ctx, "queue:sales:depth").Result(); err != nil || got != "7" {
		t.Fatalf("GET after restart = %q, %v; want 7", got, err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p := localstacktest.StartPostgres(t)
	wantPrefix := "postgres://ccd:"
	wantSuffix := fmt.Sprintf("@127.0.0.1:%d/ccd?sslmode=disable", p.Port)
	if !strings.HasPrefix(p.DSN, wantPrefix) || !strings.HasSuffix(p.DSN, wantSuffix) {
		t.Fatalf("DSN = %q", p.DSN)
	}
	conn, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var user, db, addr string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_database(), host(inet_server_addr())").
		Scan(&user, &db, &addr); err != nil {
		t.Fatal(err)
	}
	if user != "ccd" || db != "ccd" || addr != "127.0.0.1" {
		t.Errorf("user %q db %q server address %q", user, db, addr)
	}
	if _, err := os.Stat(filepath.Join(p.DataDir, fmt.Sprintf(".s.PGSQL.%d", p.Port))); err != nil {
		t.Errorf("unix socket not in the data dir: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE calls (id text PRIMARY KEY); INSERT INTO calls VALUES ('c1')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A wrong password is refused: TCP needs the password.
	if c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://ccd:wrong@127.0.0.1:%d/ccd?sslmode=disable", p.Port)); err == nil {
		c.Close(ctx)
		t.Error("wrong password accepted")
	}
	fi, err := os.Stat(filepath.Join(p.Dir, "ccd.password"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("password file: %v, %v; want mode 0600", fi.Mode(), err)
	}

	pid := p.PID()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	requireGone(t, pid)

	// Same dir and port again: no initdb, same password, same data.
	p2, err := localstack.StartPostgres(ctx, p.Dir, p.Port, localstack.Fsync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p2.Stop(context.Background()) })
	if p2.DSN != p.DSN || p2.Reused {
		t.Errorf("restart: DSN %q (was %q), reused %v", p2.DSN, p.DSN, p2.Reused)
	}
	conn2, err := pgx.Connect(ctx, p2.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	var id string
	if err := conn2.QueryRow(ctx, "SELECT id FROM calls").Scan(&id); err != nil || id != "c1" {
		t.Fatalf("row after restart = %q, %v", id, err)
	}
}

// server is what the tests below need of either server.
type server struct {
	pid    int
	port   int
	reused bool
	stop   func(context.Context) error
}

type kind struct {
	name    string
	start   func(ctx context.Context, dir string, port int, opts ...localstack.Option) (server, error)
	open    func(ctx context.Context, dir string) (server, error)
	stopDir func(ctx context.Context, dir string) error
	pidfile string // relative to the directory
}

var kinds = []kind{
	{
		name: "redis",
		start: func(ctx context.Context, dir string, port int, opts ...localstack.Option) (server, error) {
			r, err := localstack.StartRedis(ctx, dir, port, opts...)
			if err != nil {
				return server{}, err
			}
			return server{r.PID(), r.Port, r.Reused, r.Stop}, nil
		},
		open: func(ctx context.Context, dir string) (server, error) {
			r, err := localstack.OpenRedis(ctx, dir)
			if err != nil {
				return server{}, err
			}
			return server{r.PID(), r.Port, r.Reused, r.Stop}, nil
		},
		stopDir: localstack.StopRedisDir,
		pidfile: "redis.pid",
	},
	{
		name: "postgres",
		start: func(ctx context.Context, dir string, port int, opts ...localstack.Option) (server, error) {
			p, err := localstack.StartPostgres(ctx, dir, port, append(opts, localstack.Fsync(false))...)
			if err != nil {
				return server{}, err
			}
			return server{p.PID(), p.Port, p.Reused, p.Stop}, nil
		},
		open: func(ctx context.Context, dir string) (server, error) {
			p, err := localstack.OpenPostgres(ctx, dir)
			if err != nil {
				return server{}, err
			}
			return server{p.PID(), p.Port, p.Reused, p.Stop}, nil
		},
		stopDir: localstack.StopPostgresDir,
		pidfile: "data/postmaster.pid",
	},
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestStartTwiceReuses(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			dir := filepath.Join(localstacktest.TempDir(t), k.name)
			port := freePort(t)
			first, err := k.start(ctx, dir, port)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = first.stop(context.Background()) })

			second, err := k.start(ctx, dir, port)
			if err != nil {
				t.Fatal(err)
			}
			if !second.reused || second.pid != first.pid {
				t.Errorf("second start: reused=%v pid %d, want reuse of %d", second.reused, second.pid, first.pid)
			}
			if _, err := k.start(ctx, dir, freePort(t)); !errors.Is(err, localstack.ErrPortMismatch) {
				t.Errorf("start on another port: %v, want ErrPortMismatch", err)
			}
			opened, err := k.open(ctx, dir)
			if err != nil || opened.pid != first.pid || opened.port != port {
				t.Fatalf("open: %+v, %v", opened, err)
			}
			if err := k.stopDir(ctx, dir); err != nil {
				t.Fatal(err)
			}
			waitGone(t, first.pid)
			if err := k.stopDir(ctx, dir); err != nil {
				t.Errorf("stop of a stopped server: %v", err)
			}
			if _, err := k.open(ctx, dir); !errors.Is(err, localstack.ErrNotRunning) {
				t.Errorf("open after stop: %v, want ErrNotRunning", err)
			}
		})
	}
}

// waitGone waits for a process this test did not start: it is gone when it
// no longer exists or is a zombie waiting for its new parent to reap it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists: %s", pid, b)
		}
		time.Sleep(10 * time.Millisecond) // polling helper with a deadline
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			port := l.Addr().(*net.TCPAddr).Port
			dir := localstacktest.TempDir(t)
			_, err = k.start(ctxT(t), dir, port)
			if !errors.Is(err, localstack.ErrPortInUse) {
				t.Fatalf("err = %v, want ErrPortInUse", err)
			}
			var se *localstack.ServerError
			if !errors.As(err, &se) || se.Server != k.name || !strings.Contains(se.LogTail, "Address already in use") {
				t.Errorf("error does not name %s and show its log: %v", k.name, err)
			}
			t.Log(err)

			// Once the port is free, the same directory starts fine.
			l.Close()
			s, err := k.start(ctxT(t), dir, port)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.stop(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A detached server outlives the process that started it and is stopped
// later through its directory; an attached one dies with its caller.
func TestCallerExits(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		for _, mode := range []string{"detached", "attached"} {
			t.Run(k.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				ctx := ctxT(t)
				dir := filepath.Join(localstacktest.TempDir(t), k.name)
				port := freePort(t)
				t.Cleanup(func() { _ = k.stopDir(context.Background(), dir) })

				cmd := exec.CommandContext(ctx, os.Args[0])
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%s:%d:%s", helperEnv, k.name, mode, port, dir))
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("caller: %v", err)
				}
				pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
				if err != nil {
					t.Fatalf("caller printed %q", out)
				}
				if mode == "attached" {
					waitGone(t, pid)
					if _, err := k.open(ctx, dir); !errors.Is(err, localstack.ErrNotRunning) {
						t.Errorf("open after the caller exited: %v, want ErrNotRunning", err)
					}
					return
				}
				s, err := k.open(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				if s.pid != pid {
					t.Errorf("open found pid %d, caller started %d", s.pid, pid)
				}
				if sid, err := unix.Getsid(pid); err != nil || sid != pid {
					t.Errorf("server %d: session %d, %v; want a session of its own", pid, sid, err)
				}
				if err := k.stopDir(ctx, dir); err != nil {
					t.Fatal(err)
				}
				waitGone(t, pid)
			})
		}
	}
}

// Servers never run as root: a directory the server user cannot reach is a
// clear error for root; a caller that is not root runs them as itself.
func TestDirAccess(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			dir := filepath.Join(t.TempDir(), "private", k.name)
			if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
				t.Fatal(err)
			}
			s, err := k.start(ctx, dir, freePort(t))
			if os.Geteuid() == 0 {
				if !errors.Is(err, localstack.ErrDirNotAccessible) {
					t.Fatalf("err = %v, want ErrDirNotAccessible", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "PID (COMM) STATE PPID ..."
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, child)
		}
	}
	return kids
}

// After a crash (SIGKILL, pidfile left behind) the same directory starts
// again: `make up` after a power cut, also when the pidfile's PID has since
// gone to another program.
func TestRestartAfterCrash(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			dir := filepath.Join(localstacktest.TempDir(t), k.name)
			port := freePort(t)
			first, err := k.start(ctx, dir, port)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k.stopDir(context.Background(), dir) })
			kids := children(t, first.pid)
			if err := syscall.Kill(first.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for _, pid := range append(kids, first.pid) {
				waitGone(t, pid)
			}
			if _, err := k.open(ctx, dir); !errors.Is(err, localstack.ErrNotRunning) {
				t.Fatalf("open after the crash: %v, want ErrNotRunning", err)
			}
			again, err := k.start(ctx, dir, port)
			if err != nil {
				t.Fatal(err)
			}
			if again.reused || again.pid == first.pid {
				t.Errorf("restart: reused=%v pid %d (crashed %d)", again.reused, again.pid, first.pid)
			}
			if err := again.stop(ctx); err != nil {
				t.Fatal(err)
			}

			pidfile := filepath.Join(dir, k.pidfile)
			if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := k.open(ctx, dir); !errors.Is(err, localstack.ErrNotRunning) {
				t.Fatalf("open with a pidfile naming another program: %v, want ErrNotRunning", err)
			}
			third, err := k.start(ctx, dir, port)
			if err != nil {
				t.Fatalf("start with a pidfile naming another program: %v", err)
			}
			if err := third.stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
