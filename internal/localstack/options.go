package localstack

import "time"

// Option tunes StartRedis and StartPostgres.
type Option func(*options)

type options struct {
	detached     bool
	fsync        bool
	user         string
	pgBinDir     string
	redisServer  string
	startTimeout time.Duration
}

func newOptions(opts []Option) options {
	o := options{fsync: true, startTimeout: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Detached runs the server in a session of its own so that it outlives the
// caller (`ccctl stack up`). Without it (the default, for tests) the server
// gets a parent-death signal and dies with the calling process. Either way
// Stop, StopRedisDir and StopPostgresDir stop it.
func Detached(on bool) Option { return func(o *options) { o.detached = on } }

// Fsync(false) turns off fsync, synchronous_commit and full_page_writes in
// PostgreSQL and runs initdb --no-sync: fast, and safe only for data one can
// lose (tests). Redis keeps appendfsync everysec either way.
func Fsync(on bool) Option { return func(o *options) { o.fsync = on } }

// RunAs names the OS user the server runs as when the caller is root.
// Defaults: "postgres" for PostgreSQL, "redis" for Redis. Ignored when the
// caller is not root: the server then runs as the caller.
func RunAs(user string) Option { return func(o *options) { o.user = user } }

// PostgresBinDir is where initdb and postgres are. Default: the directory of
// `postgres` on PATH, else the newest /usr/lib/postgresql/N/bin.
func PostgresBinDir(dir string) Option { return func(o *options) { o.pgBinDir = dir } }

// RedisServerPath is the redis-server binary. Default: redis-server on PATH.
func RedisServerPath(path string) Option { return func(o *options) { o.redisServer = path } }

// StartTimeout bounds how long a start waits for the server to become ready,
// within the caller's context. Default 60s.
func StartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }
