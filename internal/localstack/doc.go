// Package localstack runs private Redis and PostgreSQL servers for ccd: each
// in a data directory of its own, listening on 127.0.0.1 only, on a port the
// caller chooses.
//
// Two callers use it. The end-to-end test harness starts servers attached
// (they die with the test process, and Stop kills them) in temporary
// directories on free ports, so a suite never touches a developer's running
// stack; see package localstacktest. `ccctl stack up` (the `make up` path)
// starts them Detached, in persistent directories under /var/lib/ccd on the
// fixed ports 6380 and 5433, so they outlive the CLI; `ccctl stack down`
// stops them later with StopRedisDir and StopPostgresDir, which find the
// server through its pidfile.
//
// Starting a server in a directory where one already runs returns the running
// one (Reused is set), so starting twice is harmless.
//
// # Directories and users
//
// Give each server its own directory, e.g. /var/lib/ccd/redis and
// /var/lib/ccd/postgres. It is created if missing. When the caller is root the
// servers do not run as root: PostgreSQL runs as the `postgres` user (initdb
// refuses root) and Redis as the `redis` user, both created by the Debian
// packages (see RunAs). The directory is then owned by that user with mode
// 0700, and every directory above it must be traversable by that user;
// os.MkdirAll's 0755 parents are, t.TempDir()'s are not (use
// localstacktest.TempDir). A caller that is not root runs the servers as
// itself.
//
// Redis directory layout: redis.conf (written at each start), redis.pid,
// redis.log, appendonlydir/ (the AOF; appendonly yes, appendfsync everysec).
//
// PostgreSQL directory layout: data/ (the cluster, made by initdb on first
// start; its unix socket lives there too), postgres.log, and ccd.password
// (mode 0600, owned by the caller): the password of the role `ccd`, generated
// at first start and part of the DSN. The database `ccd` is owned by that role.
//
// The package is Linux only: it reads /proc and uses the parent-death signal.
package localstack
