package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	pgDataDir      = "data"
	pgLogFile      = "postgres.log"
	pgPasswordFile = "ccd.password"
	pgConfFile     = "ccd-localstack.conf" // in the data dir, included by postgresql.conf
	pgComm         = "postgres"
	pgSuperuser    = "postgres"
	pgRole         = "ccd"
	pgDatabase     = "ccd"
	maxSocketPath  = 107 // sun_path is 108 bytes with the trailing NUL
)

// Postgres is a PostgreSQL server running in its own directory.
type Postgres struct {
	DSN     string // postgres://ccd:PASSWORD@127.0.0.1:PORT/ccd?sslmode=disable
	Dir     string // absolute directory given to StartPostgres
	DataDir string // the cluster, Dir/data; its unix socket lives there too
	Port    int
	Reused  bool // it was already running when StartPostgres was called

	proc *process
}

// PID is the postmaster's process id.
func (p *Postgres) PID() int { return p.proc.pid }

// LogPath is the server's log file.
func (p *Postgres) LogPath() string { return filepath.Join(p.Dir, pgLogFile) }

// StartPostgres starts PostgreSQL in dir on 127.0.0.1:port. On first start it
// runs initdb in dir/data and generates the password of role ccd into
// dir/ccd.password. At each start it makes sure role ccd (with that password)
// and database ccd exist, and returns once the DSN accepts connections. The
// server listens on 127.0.0.1 only, with its unix socket in the data dir. If a
// server already runs in dir it is returned (Reused) when it listens on port,
// and ErrPortMismatch is returned when it does not.
func StartPostgres(ctx context.Context, dir string, port int, opts ...Option) (*Postgres, error) {
	o := newOptions(opts)
	if err := checkPort(port); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	binDir, err := postgresBinDir(o.pgBinDir)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if o.user == "" {
		o.user = "postgres"
	}
	u, err := serverUser(o.user, "postgresql")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if dir, err = prepareDir(dir, u); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	p := &Postgres{Dir: dir, DataDir: filepath.Join(dir, pgDataDir), Port: port}
	if sock := filepath.Join(p.DataDir, ".s.PGSQL.65535"); len(sock) > maxSocketPath {
		return nil, fmt.Errorf("postgres: directory %s too long: socket path %s exceeds %d bytes", dir, sock, maxSocketPath)
	}
	ctx, cancel := withStartTimeout(ctx, o.startTimeout, "postgres")
	defer cancel()
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer unlock()

	switch running, err := findPostgres(dir); {
	case err == nil:
		if running.Port != port {
			return nil, fmt.Errorf("postgres: %w: pid %d in %s listens on %d, not %d",
				ErrPortMismatch, running.proc.pid, dir, running.Port, port)
		}
		if err := running.ready(ctx); err != nil {
			return nil, newServerError("postgres", dir, port, running.LogPath(), running.proc.logFrom, err)
		}
		running.Reused = true
		return running, nil
	case !errors.Is(err, ErrNotRunning):
		return nil, fmt.Errorf("postgres: %w", err)
	}

	if err := p.initdb(ctx, binDir, u, o.fsync); err != nil {
		return nil, newServerError("postgres", dir, port, p.LogPath(), logSize(p.LogPath()), err)
	}
	if err := writeFile(filepath.Join(p.DataDir, pgConfFile), []byte(p.config(o.fsync)), 0o600, u); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// A pidfile whose PID now belongs to another program (after a reboot)
	// would make the postmaster refuse to start. One naming a dead process
	// the postmaster handles itself, using what it records.
	pidPath := filepath.Join(p.DataDir, "postmaster.pid")
	if pid, _, err := readPidfile(pidPath); err == nil && pidAlive(pid, "") && !pidAlive(pid, pgComm) {
		if err := os.Remove(pidPath); err != nil {
			return nil, fmt.Errorf("postgres: remove stale pidfile: %w", err)
		}
	}
	p.proc, err = spawn(spawnSpec{
		bin: filepath.Join(binDir, "postgres"), args: []string{"-D", p.DataDir}, dir: dir,
		logPath: p.LogPath(), user: u, detached: o.detached, deathSig: syscall.SIGINT, comm: pgComm,
	})
	if err != nil {
		return nil, newServerError("postgres", dir, port, p.LogPath(), logSize(p.LogPath()), err)
	}
	if err := p.ready(ctx); err != nil {
		_ = p.proc.stop(context.Background(), syscall.SIGQUIT, syscall.SIGKILL)
		return nil, newServerError("postgres", dir, port, p.LogPath(), p.proc.logFrom, err)
	}
	return p, nil
}

// postgresBinDir finds initdb and postgres.
func postgresBinDir(dir string) (string, error) {
	if dir == "" {
		bin, err := exec.LookPath("postgres")
		if err == nil {
			bin, err = filepath.EvalSymlinks(bin) // initdb from the same install
		}
		if err == nil {
			dir = filepath.Dir(bin)
		} else {
			dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
			slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
			if len(dirs) > 0 {
				dir = dirs[0]
			}
		}
	}
	for _, name := range []string{"postgres", "initdb"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%w: %s not found (looked in %q, PATH and /usr/lib/postgresql/*/bin): install the Debian package postgresql",
				ErrNotInstalled, name, dir)
		}
	}
	return dir, nil
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// initdb creates the cluster unless there is one, and the role's password
// file unless there is one.
func (p *Postgres) initdb(ctx context.Context, binDir string, u *osUser, fsync bool) error {
	if _, err := p.password(true); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(p.DataDir, "PG_VERSION")); err == nil {
		return nil
	}
	if entries, err := os.ReadDir(p.DataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: %s is neither empty nor a cluster (no PG_VERSION); move it away", ErrStartFailed, p.DataDir)
	}
	args := []string{"-D", p.DataDir, "-U", pgSuperuser, "-E", "UTF8", "--locale=C", "--auth=trust", "--no-instructions"}
	if !fsync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Dir = p.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.credential()}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: initdb: %w\n%s", ErrStartFailed, err, strings.TrimSpace(string(out)))
	}
	// The socket sits in the 0700 data dir, so only the server user (and
	// root) reach it: trust there. TCP needs the password.
	hba := "# Written by ccd localstack.\n" +
		"local all all trust\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n"
	if err := writeFile(filepath.Join(p.DataDir, "pg_hba.conf"), []byte(hba), 0o600, u); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(p.DataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n# Settings of ccd localstack, rewritten at each start.\ninclude_if_exists = '%s'\n", pgConfFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (p *Postgres) config(fsync bool) string {
	onOff := map[bool]string{true: "on", false: "off"}[fsync]
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return strings.Join([]string{
		"# Written by ccd localstack at each start; changes are lost.",
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(p.Port),
		"unix_socket_directories = " + q(p.DataDir),
		"unix_socket_permissions = 0700",
		"logging_collector = off",
		"fsync = " + onOff,
		"synchronous_commit = " + onOff,
		"full_page_writes = " + onOff,
		"",
	}, "\n")
}

// password returns the ccd role's password, creating the file if asked.
func (p *Postgres) password(create bool) (string, error) {
	path := filepath.Join(p.Dir, pgPasswordFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && (!errors.Is(err, os.ErrNotExist) || !create) {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(raw)
	if err := writeFile(path, []byte(pw+"\n"), 0o600, nil); err != nil {
		return "", err
	}
	return pw, nil
}

// ready waits until the postmaster accepts connections on its socket, makes
// sure role and database ccd exist, sets DSN and checks it over TCP.
func (p *Postgres) ready(ctx context.Context) error {
	pw, err := p.password(true)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database = p.DataDir, uint16(p.Port), pgSuperuser, "postgres"
	cfg.Password, cfg.TLSConfig, cfg.Fallbacks = "", nil, nil
	cfg.ConnectTimeout = time.Second
	var conn *pgx.Conn
	err = poll(ctx, func() (bool, error) {
		if !p.proc.alive() {
			return false, fmt.Errorf("%w: process %d exited", ErrStartFailed, p.proc.pid)
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return false, nil
		}
		conn = c
		return true, nil
	})
	if err != nil {
		if !errors.Is(err, ErrStartFailed) {
			err = fmt.Errorf("%w: %w", ErrStartFailed, err)
		}
		return err
	}
	defer conn.Close(context.Background())
	if err := ensureRole(ctx, conn, pw); err != nil {
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	p.DSN = fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", pgRole, pw, p.Port, pgDatabase)
	tcp, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		return fmt.Errorf("%w: connect over TCP: %w", ErrStartFailed, err)
	}
	defer tcp.Close(context.Background())
	if err := tcp.Ping(ctx); err != nil {
		return fmt.Errorf("%w: ping over TCP: %w", ErrStartFailed, err)
	}
	return nil
}

// ensureRole creates role and database ccd if missing and sets the role's
// password to pw (hex, so safe to inline: utility statements take no
// parameters).
func ensureRole(ctx context.Context, conn *pgx.Conn, pw string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", pgRole).Scan(&exists); err != nil {
		return err
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	role := pgx.Identifier{pgRole}.Sanitize()
	if _, err := conn.Exec(ctx, fmt.Sprintf("%s ROLE %s WITH LOGIN PASSWORD '%s'", verb, role, pw)); err != nil {
		return fmt.Errorf("%s role %s: %w", strings.ToLower(verb), pgRole, err)
	}
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", pgDatabase).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{pgDatabase}.Sanitize(), role)); err != nil {
			return fmt.Errorf("create database %s: %w", pgDatabase, err)
		}
	}
	return nil
}

// findPostgres returns the live postmaster of dir (DSN not yet set), or
// ErrNotRunning.
func findPostgres(dir string) (*Postgres, error) {
	p := &Postgres{Dir: dir, DataDir: filepath.Join(dir, pgDataDir)}
	pid, lines, err := readPidfile(filepath.Join(p.DataDir, "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	if !pidAlive(pid, pgComm) {
		return nil, fmt.Errorf("%w in %s", ErrNotRunning, dir)
	}
	// postmaster.pid: PID, data dir, start time, port, socket dir, ...
	if len(lines) < 4 {
		return nil, fmt.Errorf("%s: postmaster.pid has no port line", p.DataDir)
	}
	if p.Port, err = strconv.Atoi(strings.TrimSpace(lines[3])); err != nil {
		return nil, fmt.Errorf("%s: postmaster.pid port: %w", p.DataDir, err)
	}
	p.proc = &process{pid: pid, comm: pgComm}
	return p, nil
}

// OpenPostgres returns the server running in dir, started earlier by this or
// another process, once it accepts connections; ErrNotRunning if there is
// none. The caller must be able to read dir/ccd.password.
func OpenPostgres(ctx context.Context, dir string) (*Postgres, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p, err := findPostgres(abs)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := p.ready(ctx); err != nil {
		return nil, newServerError("postgres", abs, p.Port, p.LogPath(), p.proc.logFrom, err)
	}
	p.Reused = true
	return p, nil
}

// Stop shuts the server down like `pg_ctl stop -m fast` (SIGINT: sessions are
// ended, a checkpoint written) and waits until the postmaster is gone. If ctx
// ends first it sends SIGQUIT (immediate shutdown) and returns an error.
// Stopping a stopped server is not an error.
func (p *Postgres) Stop(ctx context.Context) error {
	if err := p.proc.stop(ctx, syscall.SIGINT, syscall.SIGQUIT); err != nil {
		return newServerError("postgres", p.Dir, p.Port, p.LogPath(), p.proc.logFrom, err)
	}
	return nil
}

// StopPostgresDir stops the server running in dir, if any.
func StopPostgresDir(ctx context.Context, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	p, err := findPostgres(abs)
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return p.Stop(ctx)
}
