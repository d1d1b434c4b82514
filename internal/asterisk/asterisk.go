package asterisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// DefaultRoot is where Install keeps the Asterisk root unless told otherwise.
const DefaultRoot = "/var/lib/ccd/asterisk-root"

// ScriptPath is the script's path relative to the repository root.
const ScriptPath = "deploy/asterisk.sh"

// Options tell the script where things are and how to configure an
// instance. Zero values take the script's defaults (see deploy/asterisk.sh);
// the caller's environment never supplies instance settings, so a shell's
// SIP_PORT cannot leak into a test stack.
type Options struct {
	// Script is the path of deploy/asterisk.sh. Empty: found by walking up
	// from the working directory to the repository root.
	Script string
	// Root is the cached Asterisk root. Empty: $ASTERISK_ROOT, else DefaultRoot.
	Root string

	SIPBind  string // default 127.0.0.1
	SIPPort  int    // UDP and TCP; default 5060
	HTTPBind string // default 127.0.0.1
	HTTPPort int    // ARI and SIP over WebSocket (ws://…/ws); default 8088
	// HTTPSPort, when set, also serves HTTPS on HTTPBind: ARI and SIP over
	// secure WebSocket (wss://…/ws), which browsers need on any host but
	// localhost. Zero: no HTTPS.
	HTTPSPort int
	// TLSCert and TLSKey are PEM files of the HTTPS certificate and key.
	// Empty: the instance certificate, issued by the instance CA
	// (Instance.TLSCA) for localhost, 127.0.0.1, ::1, HTTPBind and TLSNames.
	TLSCert, TLSKey string
	// TLSNames are extra DNS names or addresses of the instance certificate.
	TLSNames []string
	App      string // Stasis application; default "ccd"
	// TrunkAllow lists the CIDRs whose calls are the trunk; default 127.0.0.1/32.
	TrunkAllow []string
	// TrunkAuthUser and TrunkAuthPassword, when set, also accept the trunk
	// from other sources that authenticate with digest auth as this user.
	TrunkAuthUser, TrunkAuthPassword string
	// Agents are the agent ids. Each has a desk phone endpoint named by the
	// id and a WebRTC endpoint "webrtc-<id>" for the browser, both with the
	// agent's password. Nil: the script's default (1001 1002 1003); empty
	// and non-nil: no agents.
	Agents []string
	// RTPStart and RTPEnd bound the RTP port range; default 10000-20000.
	RTPStart, RTPEnd int
	// MediaAddress is where RTP binds and what SDP announces; default SIPBind.
	MediaAddress string
	// AppQueueDID, for benchmarks only, is a trunk number that bypasses ccd:
	// Asterisk answers it and runs its own app_queue (queue appq, strategy
	// leastrecent, every agent endpoint a member). Empty: app_queue is not
	// loaded and every trunk call goes to ccd.
	AppQueueDID string
	// StartTimeout bounds how long Start waits for Asterisk and ARI; default 60s.
	StartTimeout time.Duration
	// Env holds extra KEY=VALUE entries for the script (DEBIAN_MIRROR, for
	// one); they win over everything else.
	Env []string
}

// Instance is a configured Asterisk instance: its directory and what a client
// needs to reach it.
type Instance struct {
	Dir    string // instance directory (absolute)
	Script string // deploy/asterisk.sh used for it
	Root   string // cached Asterisk root it runs from

	ARIURL      string // http://host:port, without /ari
	ARIUser     string
	ARIPassword string
	App         string // Stasis application every call enters

	SIPAddr    string   // host:port to send SIP to (UDP and TCP)
	TrunkAllow []string // sources identified as the trunk
	// Agents lists the agent ids, which are also their desk phone endpoints;
	// AgentPasswords their passwords.
	Agents         []string
	AgentPasswords map[string]string

	// SIPWebSocketURL is where browsers connect for SIP over WebSocket
	// (RFC 7118, subprotocol "sip"): ws://host:port/ws on the HTTP server.
	SIPWebSocketURL string
	// SIPSecureWebSocketURL is wss://host:port/ws when Options.HTTPSPort is
	// set, else empty.
	SIPSecureWebSocketURL string
	// TLSCA is the instance CA certificate (PEM) that issued the certificate
	// for DTLS-SRTP and, without Options.TLSCert, for HTTPS: what a browser
	// or client must trust for wss.
	TLSCA string
	// WebRTCEndpoints maps each agent id to its WebRTC endpoint, which
	// registers over the SIP WebSocket with the agent's password
	// (AgentPasswords). An agent in the browser has the ACD device
	// "PJSIP/" + WebRTCEndpoints[id]; a desk phone has "PJSIP/" + id.
	WebRTCEndpoints map[string]string
	// WebRTCCodecs are the codecs the WebRTC endpoints allow, in order of
	// preference: "opus,ulaw", or "ulaw" when the root has no Opus codec.
	WebRTCCodecs string
	// AppQueueDID is the number served by app_queue's queue appq, if any
	// (Options.AppQueueDID).
	AppQueueDID string

	env []string
}

// settingKeys are the script's instance settings; they come from Options only.
var settingKeys = []string{
	"SIP_BIND", "SIP_PORT", "HTTP_BIND", "HTTP_PORT", "ARI_APP", "TRUNK_ALLOW",
	"TRUNK_AUTH_USER", "TRUNK_AUTH_PASSWORD", "AGENTS", "RTP_START", "RTP_END", "MEDIA_ADDRESS",
	"APPQUEUE_DID", "HTTPS_PORT", "TLS_CERT", "TLS_KEY", "TLS_NAMES",
}

// FindScript returns deploy/asterisk.sh of the repository that contains the
// working directory: the first parent holding both go.mod and the script.
func FindScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrScriptNotFound, err)
	}
	for {
		script := filepath.Join(dir, ScriptPath)
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(script) {
			return script, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no parent of the working directory holds go.mod and %s; set Options.Script",
				ErrScriptNotFound, ScriptPath)
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Install makes sure the cached Asterisk root exists: it builds it with
// debootstrap the first time (about a minute) and returns at once after.
func Install(ctx context.Context, o Options) error {
	script, err := o.script()
	if err != nil {
		return err
	}
	_, err = run(ctx, script, o.baseEnv(), "install")
	return err
}

// Configure renders the configuration of the instance in dir (created if
// missing) from o, keeping credentials generated by an earlier run, and
// returns the instance. It does not start or restart it.
func Configure(ctx context.Context, dir string, o Options) (*Instance, error) {
	script, err := o.script()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	env, err := o.configureEnv()
	if err != nil {
		return nil, err
	}
	if _, err := run(ctx, script, env, "configure", dir); err != nil {
		return nil, err
	}
	return open(dir, script, o)
}

// Open returns the instance already configured in dir, without touching it.
func Open(dir string, o Options) (*Instance, error) {
	script, err := o.script()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return open(dir, script, o)
}

// ReadInstance reads what an instance directory says of the instance
// (addresses, agents, passwords, WebRTC seats) without deploy/asterisk.sh:
// for ccd, which runs without the repository. Start, Stop and CLI are not
// available on the result.
func ReadInstance(dir string) (*Instance, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return open(dir, "", Options{})
}

func open(dir, script string, o Options) (*Instance, error) {
	settings, err := readEnvFile(filepath.Join(dir, "instance.env"))
	if err != nil {
		return nil, err
	}
	creds, err := readEnvFile(filepath.Join(dir, "credentials.env"))
	if err != nil {
		return nil, err
	}
	i := &Instance{
		Dir:            dir,
		Script:         script,
		Root:           settings["ASTERISK_ROOT"],
		ARIURL:         settings["ARI_URL"],
		ARIUser:        creds["ARI_USER"],
		ARIPassword:    creds["ARI_PASSWORD"],
		App:            settings["ARI_APP"],
		TrunkAllow:     splitList(settings["TRUNK_ALLOW"], ","),
		Agents:         splitList(settings["AGENTS"], " "),
		AgentPasswords: map[string]string{},
		AppQueueDID:    settings["APPQUEUE_DID"],

		SIPWebSocketURL:       settings["SIP_WS_URL"],
		SIPSecureWebSocketURL: settings["SIP_WSS_URL"],
		TLSCA:                 settings["TLS_CA"],
		WebRTCEndpoints:       map[string]string{},
		WebRTCCodecs:          settings["WEBRTC_CODECS"],

		env: o.baseEnv(),
	}
	if i.Root != "" && o.Root == "" {
		// Start, Stop and CLI must use the root the instance was configured with.
		i.env = append(i.env, "ASTERISK_ROOT="+i.Root)
	}
	if o.StartTimeout > 0 {
		i.env = append(i.env, "START_TIMEOUT="+strconv.Itoa(int((o.StartTimeout+time.Second-1)/time.Second)))
	}
	i.env = append(i.env, o.Env...)
	port, err := strconv.Atoi(settings["SIP_PORT"])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: SIP_PORT %q", ErrBadInstance, dir, settings["SIP_PORT"])
	}
	i.SIPAddr = net.JoinHostPort(connectHost(settings["SIP_BIND"]), strconv.Itoa(port))
	for _, a := range i.Agents {
		pw, ok := creds["AGENT_"+a+"_PASSWORD"]
		if !ok {
			return nil, fmt.Errorf("%w: %s: no password for agent %s in credentials.env", ErrBadInstance, dir, a)
		}
		i.AgentPasswords[a] = pw
	}
	// An instance configured before WebRTC has none of its settings; it can
	// still be started and stopped (configure adds them).
	webrtc := splitList(settings["WEBRTC_ENDPOINTS"], " ")
	if len(webrtc) > 0 && len(webrtc) != len(i.Agents) {
		return nil, fmt.Errorf("%w: %s: WEBRTC_ENDPOINTS %q does not match AGENTS %q",
			ErrBadInstance, dir, settings["WEBRTC_ENDPOINTS"], settings["AGENTS"])
	}
	for n, e := range webrtc {
		i.WebRTCEndpoints[i.Agents[n]] = e
	}
	if i.ARIURL == "" || i.ARIUser == "" || i.ARIPassword == "" || i.App == "" {
		return nil, fmt.Errorf("%w: %s: ARI_URL, ARI_APP, ARI_USER or ARI_PASSWORD missing", ErrBadInstance, dir)
	}
	return i, nil
}

// Start starts the instance unless it runs already, and returns once ARI
// answers with the instance's credentials. The instance runs detached: it
// outlives the caller until Stop.
func (i *Instance) Start(ctx context.Context) error {
	_, err := run(ctx, i.Script, i.env, "start", i.Dir)
	return err
}

// Stop stops the instance: SIGTERM, then SIGKILL after 10 s. Stopping an
// instance that does not run is not an error.
func (i *Instance) Stop(ctx context.Context) error {
	_, err := run(ctx, i.Script, i.env, "stop", i.Dir)
	return err
}

// PID returns the pid of the instance's process (the namespace holder, whose
// child is Asterisk), or ErrNotRunning.
func (i *Instance) PID(ctx context.Context) (int, error) {
	out, err := run(ctx, i.Script, i.env, "status", i.Dir)
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.ExitCode() == 1 && ctx.Err() == nil {
			return 0, fmt.Errorf("%w: %s", ErrNotRunning, i.Dir)
		}
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("%w: status printed %q", ErrScriptFailed, out)
	}
	return pid, nil
}

// CLI runs an Asterisk CLI command in the running instance and returns its
// output, e.g. CLI(ctx, "pjsip show endpoints").
func (i *Instance) CLI(ctx context.Context, command string) (string, error) {
	return run(ctx, i.Script, i.env, "cli", i.Dir, command)
}

// LogPath is the instance's Asterisk log file (notice, warning, error, verbose 3).
func (i *Instance) LogPath() string { return filepath.Join(i.Dir, "log", "messages") }

// ConsoleLogPath is where the instance's stdout and stderr go.
func (i *Instance) ConsoleLogPath() string { return filepath.Join(i.Dir, "log", "console.log") }

// SoundsDir is the instance's directory for ccd's own prompts; Asterisk sees
// it as /instance/sounds.
func (i *Instance) SoundsDir() string { return filepath.Join(i.Dir, "sounds") }

func (o Options) script() (string, error) {
	if o.Script != "" {
		if !fileExists(o.Script) {
			return "", fmt.Errorf("%w: %s", ErrScriptNotFound, o.Script)
		}
		return filepath.Abs(o.Script)
	}
	return FindScript()
}

// baseEnv is the caller's environment without instance settings, plus Root.
func (o Options) baseEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(settingKeys, k)
	})
	if o.Root != "" {
		env = append(env, "ASTERISK_ROOT="+o.Root)
	}
	return env
}

func (o Options) configureEnv() ([]string, error) {
	env := o.baseEnv()
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	port := func(k string, p int) error {
		if p == 0 {
			return nil
		}
		if p < 0 || p > 65535 {
			return fmt.Errorf("%w: %s %d out of range", ErrInvalidOptions, k, p)
		}
		set(k, strconv.Itoa(p))
		return nil
	}
	set("SIP_BIND", o.SIPBind)
	set("HTTP_BIND", o.HTTPBind)
	set("ARI_APP", o.App)
	set("TRUNK_ALLOW", strings.Join(o.TrunkAllow, ","))
	set("TRUNK_AUTH_USER", o.TrunkAuthUser)
	set("TRUNK_AUTH_PASSWORD", o.TrunkAuthPassword)
	set("MEDIA_ADDRESS", o.MediaAddress)
	set("APPQUEUE_DID", o.AppQueueDID)
	set("TLS_CERT", o.TLSCert)
	set("TLS_KEY", o.TLSKey)
	for _, n := range o.TLSNames {
		if n == "" || strings.ContainsFunc(n, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			return nil, fmt.Errorf("%w: TLS name %q", ErrInvalidOptions, n)
		}
	}
	set("TLS_NAMES", strings.Join(o.TLSNames, ","))
	for _, a := range o.Agents {
		if a == "" || strings.ContainsFunc(a, unicode.IsSpace) {
			return nil, fmt.Errorf("%w: agent id %q", ErrInvalidOptions, a)
		}
	}
	if o.Agents != nil {
		env = append(env, "AGENTS="+strings.Join(o.Agents, " "))
	}
	for _, c := range o.TrunkAllow {
		if c == "" || strings.ContainsFunc(c, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			return nil, fmt.Errorf("%w: trunk source %q", ErrInvalidOptions, c)
		}
	}
	for _, p := range []struct {
		k string
		v int
	}{{"SIP_PORT", o.SIPPort}, {"HTTP_PORT", o.HTTPPort}, {"HTTPS_PORT", o.HTTPSPort}, {"RTP_START", o.RTPStart}, {"RTP_END", o.RTPEnd}} {
		if err := port(p.k, p.v); err != nil {
			return nil, err
		}
	}
	return append(env, o.Env...), nil
}

// run runs the script and returns its stdout. A failure is a *ScriptError.
func run(ctx context.Context, script string, env []string, args ...string) (string, error) {
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: asterisk.sh %s runs chroot and mount namespaces (run as root)", ErrNotRoot, args[0])
	}
	cmd := exec.CommandContext(ctx, "/bin/bash", append([]string{script}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so cancelling kills helpers (curl, nsenter)
	// too; a started Asterisk has a session of its own and survives.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return stdout.String(), &ScriptError{Args: args, Stderr: stderr.String(), Err: err}
	}
	return stdout.String(), nil
}

func connectHost(bind string) string {
	switch bind {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::", "::0":
		return "::1"
	}
	return bind
}

func splitList(s, sep string) []string {
	var out []string
	for _, f := range strings.Split(s, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
