package localstack

import (
	"bufio"
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
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	redisConfFile = "redis.conf"
	redisPidFile  = "redis.pid"
	redisLogFile  = "redis.log"
	redisComm     = "redis-server"
)

// Redis is a Redis server running in its own directory.
type Redis struct {
	Addr   string // 127.0.0.1:PORT
	Dir    string // absolute data directory
	Port   int
	Reused bool // it was already running when StartRedis was called

	proc *process
}

// PID is the server's process id.
func (r *Redis) PID() int { return r.proc.pid }

// LogPath is the server's log file.
func (r *Redis) LogPath() string { return filepath.Join(r.Dir, redisLogFile) }

// StartRedis starts redis-server in dir on 127.0.0.1:port, with the append-only
// file on (appendfsync everysec), protected mode, and pidfile and log in dir.
// It returns once the server answers and has loaded its data. If a server
// already runs in dir it is returned (Reused) when it listens on port, and
// ErrPortMismatch is returned when it does not.
func StartRedis(ctx context.Context, dir string, port int, opts ...Option) (*Redis, error) {
	o := newOptions(opts)
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	bin := o.redisServer
	if bin == "" {
		bin = "redis-server"
	}
	bin, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("redis: %w: %v: install the Debian package redis-server", ErrNotInstalled, err)
	}
	if o.user == "" {
		o.user = "redis"
	}
	u, err := serverUser(o.user, "redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if dir, err = prepareDir(dir, u); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	ctx, cancel := withStartTimeout(ctx, o.startTimeout, "redis")
	defer cancel()
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	defer unlock()

	switch r, err := findRedis(dir); {
	case err == nil:
		if r.Port != port {
			return nil, fmt.Errorf("redis: %w: pid %d in %s listens on %d, not %d",
				ErrPortMismatch, r.proc.pid, dir, r.Port, port)
		}
		if err := r.waitReady(ctx); err != nil {
			return nil, newServerError("redis", dir, port, r.LogPath(), r.proc.logFrom, err)
		}
		r.Reused = true
		return r, nil
	case !errors.Is(err, ErrNotRunning):
		return nil, fmt.Errorf("redis: %w", err)
	}

	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, Port: port}
	conf := filepath.Join(dir, redisConfFile)
	if err := writeFile(conf, []byte(redisConfig(dir, port)), 0o640, u); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	r.proc, err = spawn(spawnSpec{
		bin: bin, args: []string{conf}, dir: dir, logPath: r.LogPath(), user: u,
		detached: o.detached, deathSig: syscall.SIGTERM, comm: redisComm,
	})
	if err != nil {
		return nil, newServerError("redis", dir, port, r.LogPath(), logSize(r.LogPath()), err)
	}
	if err := r.waitReady(ctx); err != nil {
		_ = r.proc.stop(context.Background(), syscall.SIGKILL, syscall.SIGKILL)
		return nil, newServerError("redis", dir, port, r.LogPath(), r.proc.logFrom, err)
	}
	return r, nil
}

func redisConfig(dir string, port int) string {
	q := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return strings.Join([]string{
		"# Written by ccd localstack at each start; changes are lost.",
		"bind 127.0.0.1",
		"port " + strconv.Itoa(port),
		"protected-mode yes",
		"daemonize no",
		"supervised no",
		"dir " + q(dir),
		"pidfile " + q(filepath.Join(dir, redisPidFile)),
		"logfile " + q(filepath.Join(dir, redisLogFile)),
		"loglevel notice",
		"always-show-logo no",
		"appendonly yes",
		"appendfsync everysec",
		`appenddirname "appendonlydir"`,
		`save ""`,
		"",
	}, "\n")
}

// waitReady polls until the server in r.proc answers INFO with its own
// process id (not another server on the port) and has finished loading.
// Each attempt uses a fresh client: a pool backs off after dial errors.
func (r *Redis) waitReady(ctx context.Context) error {
	err := poll(ctx, func() (bool, error) {
		if !r.proc.alive() {
			return false, fmt.Errorf("%w: process %d exited", ErrStartFailed, r.proc.pid)
		}
		c := redis.NewClient(&redis.Options{
			Addr: r.Addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
			MaxRetries: -1, PoolSize: 1,
		})
		defer c.Close()
		info, err := c.Info(ctx, "server", "persistence").Result()
		if err != nil {
			return false, nil
		}
		return infoField(info, "process_id") == strconv.Itoa(r.proc.pid) && infoField(info, "loading") == "0", nil
	})
	if err != nil && !errors.Is(err, ErrStartFailed) {
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	return err
}

func infoField(info, key string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && k == key {
			return v
		}
	}
	return ""
}

// findRedis returns the live server of dir, or ErrNotRunning.
func findRedis(dir string) (*Redis, error) {
	pid, _, err := readPidfile(filepath.Join(dir, redisPidFile))
	if err != nil {
		return nil, err
	}
	if !pidAlive(pid, redisComm) {
		return nil, fmt.Errorf("%w in %s", ErrNotRunning, dir)
	}
	port, err := confPort(filepath.Join(dir, redisConfFile))
	if err != nil {
		return nil, err
	}
	return &Redis{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, Port: port,
		proc: &process{pid: pid, comm: redisComm},
	}, nil
}

func confPort(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "port "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s: no port line", path)
}

// OpenRedis returns the server running in dir, started earlier by this or
// another process, once it answers; ErrNotRunning if there is none.
func OpenRedis(ctx context.Context, dir string) (*Redis, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r, err := findRedis(abs)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if err := r.waitReady(ctx); err != nil {
		return nil, newServerError("redis", abs, r.Port, r.LogPath(), r.proc.logFrom, err)
	}
	r.Reused = true
	return r, nil
}

// Stop shuts the server down (SIGTERM: Redis flushes the append-only file)
// and waits until the process is gone. If ctx ends first it kills it and
// returns an error. Stopping a stopped server is not an error.
func (r *Redis) Stop(ctx context.Context) error {
	if err := r.proc.stop(ctx, syscall.SIGTERM, syscall.SIGKILL); err != nil {
		return newServerError("redis", r.Dir, r.Port, r.LogPath(), r.proc.logFrom, err)
	}
	return nil
}

// StopRedisDir stops the server running in dir, if any.
func StopRedisDir(ctx context.Context, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	r, err := findRedis(abs)
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return r.Stop(ctx)
}
