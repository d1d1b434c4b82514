package web

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDesktopInBrowser drives the built desktop in Debian's Chromium
// (playwright-core, e2e/desk.mjs) against Handler() and a fake ccd API and
// event stream (fakeccd_test.go): login, state changes, an offered call with
// its screen pop, answer and hang-up from the keyboard, wrap-up, a dropped
// event stream with a state changed meanwhile, the English text, a new
// caller's profile. It builds nothing: `make web` must have run. The
// screenshots of each step go to $TEST_ARTIFACTS/TestDesktopInBrowser, or a
// temporary directory that the log names.
func TestDesktopInBrowser(t *testing.T) {
	if _, err := fs.Stat(dist, "dist/index.html"); err != nil {
		t.Fatal("the desktop is not built (agentdesk/web/dist/index.html missing from the embed): run make web")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatal("playwright-core is not installed in agentdesk/web/node_modules: run make web (npm ci)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH: install Node.js 20 or later")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no browser at %s: apt-get install chromium (or set CHROMIUM)", chromium)
	}
	artifacts := t.TempDir()
	if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" {
		artifacts = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(artifacts, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", artifacts)

	fake := newFakeCCD()
	mux := http.NewServeMux()
	mux.Handle("/desk/", Handler())
	mux.HandleFunc("GET /sip", fake.sip)
	fake.routes(mux, func(r *http.Request) string { return "ws://" + r.Host + "/sip" })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "desk.mjs"))
	cmd.Env = append(os.Environ(),
		"DESK_URL="+srv.URL,
		"ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
		"DESK_USER="+fakeUser,
		"DESK_PASSWORD="+fakePassword,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("e2e/desk.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the browser run failed: %v (screenshots in %s)", err, artifacts)
	}

	// What the page did, as the server saw it.
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.violations) > 0 {
		t.Errorf("requests the real server would refuse:\n%s", strings.Join(fake.violations, "\n"))
	}
	if w := fake.wrapups["call-1"]; w["disposition"] != "trace_answered" || !strings.Contains(w["notes"], "已告知产地") {
		t.Errorf("wrap-up of call-1 = %v", w)
	}
	if len(fake.customers) != 1 || fake.customers[0]["name"] != "赵新" || !strings.Contains(strings.TrimSpace(toString(fake.customers[0]["phones"])), "13900000002") {
		t.Errorf("customers created = %v", fake.customers)
	}
	// One stream per page load and per drop: at login, after the drop, after
	// the reload. Switching the language must not reconnect.
	if fake.streams != 3 {
		t.Errorf("event stream opened %d times, want 3 (login, reconnect after the drop, reload)", fake.streams)
	}
	if fake.stateGets < 2 {
		t.Errorf("state fetched %d times, want once per connection", fake.stateGets)
	}
	if fake.registers < 1 {
		t.Error("the softphone never sent REGISTER")
	}
	for _, want := range []string{"/api/v1/calls/call-1/answer", "/api/v1/calls/call-1/hold", "/api/v1/calls/call-1/hangup", "/api/v1/calls/call-1/wrapup"} {
		if !strings.Contains(strings.Join(fake.calls, "\n"), want) {
			t.Errorf("no POST %s; calls: %v", want, fake.calls)
		}
	}
	sipLog := strings.Join(fake.sipLog, "\n")
	for _, want := range []string{"REGISTER ", "SIP/2.0 180", "SIP/2.0 200", "BYE "} {
		if !strings.Contains(sipLog, want) {
			t.Errorf("the softphone never sent %q; it sent:\n%s", want, sipLog)
		}
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) < 14 {
		t.Errorf("%d screenshots in %s, want one per step", len(shots), artifacts)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case []any:
		var parts []string
		for _, p := range x {
			parts = append(parts, toString(p))
		}
		return strings.Join(parts, ",")
	case string:
		return x
	}
	return ""
}
