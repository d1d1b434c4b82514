package asterisk_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/asterisk"
)

// install makes sure the cached root exists; the first run on a machine
// builds it (about a minute).
func install(t *testing.T, ctx context.Context) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests run a real Asterisk in a chroot and need root: run `sudo go test ./internal/asterisk/`")
	}
	if err := asterisk.Install(ctx, asterisk.Options{}); err != nil {
		t.Fatalf("install: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := asterisk.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstanceLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install(t, ctx)

	dir := t.TempDir()
	opts := asterisk.Options{
		SIPPort:  freePort(t),
		HTTPPort: freePort(t),
		Agents:   []string{"1001", "1002"},
	}
	inst, err := asterisk.Configure(ctx, dir, opts)
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(context.Background()); err != nil {
			t.Errorf("stop in cleanup: %v", err)
		}
	})
	if err := inst.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	pid, err := inst.PID(ctx)
	if err != nil {
		t.Fatalf("pid of a started instance: %v", err)
	}
	children := childPIDs(pid)
	if len(children) == 0 {
		t.Fatalf("instance process %d has no Asterisk child", pid)
	}

	t.Run("ari info with credentials", func(t *testing.T) {
		var info struct {
			System struct {
				Version string `json:"version"`
			} `json:"system"`
		}
		code := ariGet(t, inst, inst.ARIUser, inst.ARIPassword, &info)
		if code != http.StatusOK {
			t.Fatalf("GET /ari/asterisk/info: status %d, want 200", code)
		}
		major, _, _ := strings.Cut(info.System.Version, ".")
		if n, err := strconv.Atoi(major); err != nil || n < 22 {
			t.Fatalf("Asterisk version %q, want 22 or later", info.System.Version)
		}
	})

	t.Run("ari refuses wrong credentials", func(t *testing.T) {
		if code := ariGet(t, inst, inst.ARIUser, inst.ARIPassword+"x", nil); code != http.StatusUnauthorized {
			t.Fatalf("GET /ari/asterisk/info with a wrong password: status %d, want 401", code)
		}
	})

	t.Run("endpoints", func(t *testing.T) {
		out, err := inst.CLI(ctx, "pjsip show endpoints")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"trunk", "1001", "1002", "webrtc-1001", "webrtc-1002"} {
			if !strings.Contains(out, " Endpoint:  "+name+" ") {
				t.Errorf("pjsip show endpoints lacks %s:\n%s", name, out)
			}
		}
		if strings.Contains(out, "1003") {
			t.Errorf("pjsip show endpoints lists 1003, not configured:\n%s", out)
		}
	})

	t.Run("webrtc settings", func(t *testing.T) {
		wantWS := strings.Replace(inst.ARIURL, "http://", "ws://", 1) + "/ws"
		if inst.SIPWebSocketURL != wantWS || inst.SIPSecureWebSocketURL != "" {
			t.Errorf("SIP WebSocket URLs %q and %q, want %q and none (no HTTPSPort)",
				inst.SIPWebSocketURL, inst.SIPSecureWebSocketURL, wantWS)
		}
		want := map[string]string{"1001": "webrtc-1001", "1002": "webrtc-1002"}
		if len(inst.WebRTCEndpoints) != len(want) || inst.WebRTCEndpoints["1001"] != want["1001"] || inst.WebRTCEndpoints["1002"] != want["1002"] {
			t.Errorf("WebRTCEndpoints %v, want %v", inst.WebRTCEndpoints, want)
		}
		if inst.TLSCA != filepath.Join(inst.Dir, "tls", "ca.crt") {
			t.Errorf("TLSCA %q", inst.TLSCA)
		}
		out, err := inst.CLI(ctx, "pjsip show transports")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "transport-ws ") || strings.Contains(out, "transport-wss") {
			t.Errorf("want transport-ws and no transport-wss without HTTPSPort:\n%s", out)
		}
	})

	t.Run("no app_queue by default", func(t *testing.T) {
		out, err := inst.CLI(ctx, "module show like app_queue")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "0 modules loaded") || inst.AppQueueDID != "" {
			t.Errorf("app_queue loaded without AppQueueDID (AppQueueDID %q):\n%s", inst.AppQueueDID, out)
		}
	})

	t.Run("second start is a no-op", func(t *testing.T) {
		if err := inst.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if again, err := inst.PID(ctx); err != nil || again != pid {
			t.Fatalf("pid after second start: %d, %v; want %d", again, err, pid)
		}
	})

	t.Run("reconfigure keeps credentials", func(t *testing.T) {
		copyDir(t, filepath.Join(dir, "tls"), filepath.Join(dir, "tls.before"))
		again, err := asterisk.Configure(ctx, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if again.ARIPassword != inst.ARIPassword || again.AgentPasswords["1001"] != inst.AgentPasswords["1001"] {
			t.Fatal("configure generated new credentials for an existing instance")
		}
		for _, f := range []string{"ca.crt", "asterisk.crt", "asterisk.key"} {
			if a, b := readFile(t, filepath.Join(dir, "tls.before", f)), readFile(t, filepath.Join(dir, "tls", f)); a != b {
				t.Errorf("configure issued a new %s for an existing instance", f)
			}
		}
	})

	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := inst.PID(ctx); !errors.Is(err, asterisk.ErrNotRunning) {
		t.Fatalf("pid after stop: %v, want ErrNotRunning", err)
	}
	for _, p := range append([]int{pid}, children...) {
		if alive(p) {
			t.Errorf("process %d still alive after stop", p)
		}
	}
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("stop of a stopped instance: %v", err)
	}
}

// The benchmarks' baseline: with AppQueueDID, app_queue serves that number
// from queue appq with every agent a member, here twenty of them.
func TestAppQueueComparisonQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install(t, ctx)

	var agents []string
	for i := 2001; i <= 2020; i++ {
		agents = append(agents, strconv.Itoa(i))
	}
	const did = "4006009999"
	inst, err := asterisk.Configure(ctx, t.TempDir(), asterisk.Options{
		SIPPort: freePort(t), HTTPPort: freePort(t), Agents: agents, AppQueueDID: did,
	})
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(context.Background()); err != nil {
			t.Errorf("stop in cleanup: %v", err)
		}
	})
	if inst.AppQueueDID != did || len(inst.Agents) != len(agents) || len(inst.AgentPasswords) != len(agents) {
		t.Fatalf("instance: AppQueueDID %q, %d agents, %d passwords", inst.AppQueueDID, len(inst.Agents), len(inst.AgentPasswords))
	}
	if err := inst.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}

	out, err := inst.CLI(ctx, "queue show appq")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "'leastrecent' strategy") {
		t.Errorf("queue appq is not leastrecent:\n%s", out)
	}
	for _, a := range agents {
		if !strings.Contains(out, a+" (PJSIP/"+a+") (ringinuse disabled)") {
			t.Errorf("queue appq lacks member PJSIP/%s with ringinuse disabled:\n%s", a, out)
		}
	}
	out, err = inst.CLI(ctx, "dialplan show "+did+"@from-trunk")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "'"+did+"' =>") || !strings.Contains(out, "Queue(appq)") {
		t.Errorf("from-trunk does not send %s to Queue(appq):\n%s", did, out)
	}
}

func TestAsteriskAccountUnusedOnHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install(t, ctx)

	uid, gid, err := asterisk.AccountIDs("")
	if err != nil {
		t.Fatal(err)
	}
	if uid != gid {
		t.Errorf("asterisk uid %d and gid %d differ", uid, gid)
	}
	for _, f := range []struct{ path, id string }{
		{"/etc/passwd", strconv.Itoa(uid)},
		{"/etc/group", strconv.Itoa(gid)},
		{"/etc/passwd", strconv.Itoa(gid)},
		{"/etc/group", strconv.Itoa(uid)},
	} {
		if name := ownerOfID(t, f.path, f.id); name != "" {
			t.Errorf("id %s of the Asterisk root's asterisk account is %s in the host's %s", f.id, name, f.path)
		}
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		t.Errorf("uid %d belongs to host user %s", uid, u.Username)
	}
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		t.Errorf("gid %d belongs to host group %s", gid, g.Name)
	}
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install(t, ctx)

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts asterisk.Options
		want string // in the error
	}{
		{"trunk source", asterisk.Options{TrunkAllow: []string{"10.0.0.0/8;x"}}, "TRUNK_ALLOW entry"},
		{"agent id", asterisk.Options{Agents: []string{"x-y"}}, "AGENTS"},
		{"auth user without password", asterisk.Options{TrunkAuthUser: "carrier"}, "TRUNK_AUTH_PASSWORD"},
		{"agent named trunk", asterisk.Options{Agents: []string{"trunk"}}, "clashes"},
		{"app_queue DID", asterisk.Options{AppQueueDID: "400x"}, "APPQUEUE_DID"},
		{"TLS certificate without HTTPS", asterisk.Options{TLSCert: notPEM, TLSKey: notPEM}, "HTTPS_PORT"},
		{"TLS certificate without key", asterisk.Options{HTTPSPort: 8089, TLSCert: notPEM}, "TLS_KEY"},
		{"HTTPS on the HTTP port", asterisk.Options{HTTPPort: 8088, HTTPSPort: 8088}, "HTTPS_PORT"},
		{"TLS certificate not PEM", asterisk.Options{HTTPSPort: 8089, TLSCert: notPEM, TLSKey: notPEM}, "TLS_CERT"},
		{"TLS name", asterisk.Options{TLSNames: []string{"bad_name"}}, "TLS_NAMES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asterisk.Configure(ctx, t.TempDir(), tt.opts)
			var se *asterisk.ScriptError
			if !errors.Is(err, asterisk.ErrScriptFailed) || !errors.As(err, &se) {
				t.Fatalf("configure: %v, want a *ScriptError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("configure error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// The instance CA and certificate are generated once and kept; a new name
// gets a new certificate from the same CA, so a browser that trusts the CA
// keeps trusting the instance.
func TestCertificatesAcrossConfigure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install(t, ctx)

	dir := t.TempDir()
	opts := asterisk.Options{Agents: []string{}}
	inst, err := asterisk.Configure(ctx, dir, opts)
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	ca := readFile(t, inst.TLSCA)
	cert := parseCert(t, filepath.Join(dir, "tls", "asterisk.crt"))
	if err := cert.VerifyHostname("example.test"); err == nil {
		t.Fatal("the certificate names example.test before it was asked for")
	}

	opts.TLSNames = []string{"example.test", "192.0.2.10"}
	if _, err := asterisk.Configure(ctx, dir, opts); err != nil {
		t.Fatalf("configure with TLS names: %v", err)
	}
	if readFile(t, inst.TLSCA) != ca {
		t.Fatal("a new TLS name replaced the instance CA")
	}
	renewed := parseCert(t, filepath.Join(dir, "tls", "asterisk.crt"))
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, inst.TLSCA))
	for _, name := range []string{"example.test", "192.0.2.10", "localhost", "127.0.0.1"} {
		if _, err := renewed.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("certificate after adding TLS names, for %s: %v", name, err)
		}
	}
}

// With HTTPSPort and a certificate of one's own, ARI and the SIP WebSocket
// are served over TLS with that certificate.
func TestHTTPSWithOwnCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install(t, ctx)

	certFile, keyFile, pool := selfSigned(t, "127.0.0.1")
	inst, err := asterisk.Configure(ctx, t.TempDir(), asterisk.Options{
		SIPPort: freePort(t), HTTPPort: freePort(t), HTTPSPort: freePort(t),
		TLSCert: certFile, TLSKey: keyFile, Agents: []string{"1001"},
	})
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(context.Background()); err != nil {
			t.Errorf("stop in cleanup: %v", err)
		}
	})
	if err := inst.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	if !strings.HasPrefix(inst.SIPSecureWebSocketURL, "wss://127.0.0.1:") || !strings.HasSuffix(inst.SIPSecureWebSocketURL, "/ws") {
		t.Fatalf("SIPSecureWebSocketURL %q", inst.SIPSecureWebSocketURL)
	}
	base := "https://" + strings.TrimSuffix(strings.TrimPrefix(inst.SIPSecureWebSocketURL, "wss://"), "/ws")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ari/asterisk/info", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(inst.ARIUser, inst.ARIPassword)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /ari/asterisk/info over HTTPS with our certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ari/asterisk/info over HTTPS: status %d", resp.StatusCode)
	}
	out, err := inst.CLI(ctx, "pjsip show transports")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "transport-wss ") {
		t.Errorf("no transport-wss with HTTPSPort:\n%s", out)
	}
}

func TestFindScript(t *testing.T) {
	script, err := asterisk.FindScript()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(script, "/deploy/asterisk.sh") {
		t.Fatalf("FindScript = %s", script)
	}
}

// ariGet sends GET /ari/asterisk/info and decodes the body into v when the
// status is 200.
func ariGet(t *testing.T, inst *asterisk.Instance, user, password string, v any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, inst.ARIURL+"/ari/asterisk/info", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode /ari/asterisk/info: %v", err)
		}
	}
	return resp.StatusCode
}

// ownerOfID returns the name of the entry with id in a passwd or group file.
func ownerOfID(t *testing.T, path, id string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[2] == id {
			return fields[0]
		}
	}
	return ""
}

func childPIDs(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// alive reports whether pid is a process that has not exited (zombies count
// as exited).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(to, e.Name()), []byte(readFile(t, filepath.Join(from, e.Name()))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(readFile(t, path)))
	if blk == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// selfSigned writes a self-signed ECDSA certificate for ip and its key in
// PEM files and returns them with a pool that trusts the certificate.
func selfSigned(t *testing.T, ip string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ccd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "own.crt"), filepath.Join(dir, "own.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
