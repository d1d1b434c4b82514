package webrtce2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccd-platform/ccd/internal/asterisk"
)

// A browser registers as webrtc-<agent> over the SIP WebSocket (plain and
// TLS) with the agent's password, from 127.0.0.1, the trunk's own address:
// its From URI identifies it before the source address does. Asterisk lists
// the contact with transport ws, and drops it when the browser unregisters.
func TestRegisterOverWebSocket(t *testing.T) {
	tests := []struct {
		name, url, agent string
	}{
		{"ws", inst.SIPWebSocketURL, "1001"},
		{"wss", inst.SIPSecureWebSocketURL, "1002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			endpoint := inst.WebRTCEndpoints[tt.agent]
			if endpoint != "webrtc-"+tt.agent {
				t.Fatalf("WebRTC endpoint of agent %s is %q, want webrtc-%s", tt.agent, endpoint, tt.agent)
			}
			p := dialWS(t, tt.url, inst.TLSCA)
			res, err := p.register(ctx, endpoint, inst.AgentPasswords[tt.agent], 300)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("REGISTER %s over %s: %d %s, want 200", endpoint, tt.name, res.StatusCode, res.Reason)
			}
			contact := findContact(t, ctx, endpoint)
			if contact == "" {
				t.Fatalf("pjsip show contacts lacks %s after a 200 OK:\n%s", endpoint, cli(t, ctx, "pjsip show contacts"))
			}
			// RFC 7118: the URI parameter is transport=ws over WS and WSS.
			if !strings.Contains(strings.ToLower(contact), ";transport=ws") {
				t.Errorf("contact of %s is %q, want transport=ws", endpoint, contact)
			}

			res, err = p.register(ctx, endpoint, inst.AgentPasswords[tt.agent], 0)
			if err != nil || res.StatusCode != sip.StatusOK {
				t.Fatalf("unREGISTER: %v %v", res, err)
			}
			if c := findContact(t, ctx, endpoint); c != "" {
				t.Errorf("contact %q still there after unregistering", c)
			}
		})
	}
}

// A browser tab that closes takes its registration with it: the contact
// goes with the WebSocket connection, so the agent's WebRTC endpoint is
// unavailable at once instead of until the registration expires.
func TestClosedWebSocketDropsContact(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	endpoint := inst.WebRTCEndpoints["1002"]
	p := dialWS(t, inst.SIPWebSocketURL, inst.TLSCA)
	res, err := p.register(ctx, endpoint, inst.AgentPasswords["1002"], 300)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER %s: %v %v", endpoint, res, err)
	}
	if findContact(t, ctx, endpoint) == "" {
		t.Fatalf("no contact for %s after a 200 OK", endpoint)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for findContact(t, ctx, endpoint) != "" {
		select {
		case <-ctx.Done():
			t.Fatalf("contact of %s still there after its WebSocket closed:\n%s", endpoint, cli(t, context.Background(), "pjsip show contacts"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A wrong password, another agent's password or an endpoint that does not
// exist gets no registration.
func TestWebSocketRegistrationRefused(t *testing.T) {
	tests := []struct {
		name, user, password string
	}{
		{"wrong password", "webrtc-1003", inst.AgentPasswords["1003"] + "x"},
		{"another agent's password", "webrtc-1003", inst.AgentPasswords["1001"]},
		{"unknown endpoint", "webrtc-9999", inst.AgentPasswords["1003"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			p := dialWS(t, inst.SIPWebSocketURL, inst.TLSCA)
			res, err := p.register(ctx, tt.user, tt.password, 300)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != sip.StatusUnauthorized && res.StatusCode != sip.StatusForbidden {
				t.Fatalf("REGISTER %s: %d %s, want 401 or 403", tt.user, res.StatusCode, res.Reason)
			}
			if c := findContact(t, ctx, tt.user); c != "" {
				t.Fatalf("refused REGISTER left contact %q", c)
			}
		})
	}
}

// Identifying WebRTC endpoints by their From URI before the source address
// opens nothing: a request from the trunk's address that claims to be a
// WebRTC agent is challenged, not taken as the trunk nor as the agent.
func TestTrunkSourceClaimingWebRTCIsChallenged(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p := dialUDP(t, "127.0.0.1", inst.SIPAddr)
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "4006001000", Host: p.registrar})
	req.AppendHeader(sip.NewHeader("From", fmt.Sprintf("<sip:webrtc-1001@%s>;tag=%s", p.registrar, randomToken(8))))
	req.AppendHeader(sip.NewHeader("To", fmt.Sprintf("<sip:4006001000@%s>", p.registrar)))
	req.AppendHeader(sip.NewHeader("Call-ID", randomToken(16)))
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:webrtc-1001@%s>", p.sentBy)))
	res, err := p.do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ack(req, res); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("INVITE from the trunk address as webrtc-1001: %d %s, want 401", res.StatusCode, res.Reason)
	}
}

// What Asterisk applied (pjsip show endpoint), not what the file says: the
// WebRTC endpoints have DTLS-SRTP with the instance certificate, ICE, AVPF,
// rtcp-mux and bundle, Opus when the root has it; the desk endpoints have
// none of them. The SIP WebSocket transports exist.
func TestWebRTCConfiguration(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	webrtc := map[string]string{
		"webrtc":                       "yes",
		"media_encryption":             "dtls",
		"dtls_verify":                  "Fingerprint",
		"dtls_setup":                   "actpass",
		"dtls_cert_file":               "/instance/tls/asterisk.crt",
		"dtls_private_key":             "/instance/tls/asterisk.key",
		"ice_support":                  "true",
		"use_avpf":                     "true",
		"rtcp_mux":                     "true",
		"bundle":                       "true",
		"media_use_received_transport": "true",
		"context":                      "from-agents",
		"direct_media":                 "false",
		"media_address":                "127.0.0.1",
		"bind_rtp_to_media_address":    "true",
		"allow":                        "(" + strings.ReplaceAll(inst.WebRTCCodecs, ",", "|") + ")",
	}
	desk := map[string]string{
		"webrtc":           "no",
		"media_encryption": "no",
		"dtls_cert_file":   "",
		"ice_support":      "false",
		"use_avpf":         "false",
		"rtcp_mux":         "false",
		"bundle":           "false",
		"context":          "from-agents",
		"media_address":    "127.0.0.1",
		"allow":            "(ulaw|alaw)",
	}
	if inst.WebRTCCodecs != "opus,ulaw" {
		t.Errorf("WebRTC codecs %q, want opus,ulaw (the Debian root has codec_opus_open_source)", inst.WebRTCCodecs)
	}
	for _, a := range agents {
		t.Run(a, func(t *testing.T) {
			checkEndpoint(t, ctx, inst.WebRTCEndpoints[a], webrtc)
			checkEndpoint(t, ctx, a, desk)
			out := cli(t, ctx, "pjsip show aor "+inst.WebRTCEndpoints[a])
			for k, want := range map[string]string{"max_contacts": "1", "remove_existing": "true"} {
				if got := param(out, k); got != want {
					t.Errorf("aor %s: %s = %q, want %q", inst.WebRTCEndpoints[a], k, got, want)
				}
			}
		})
	}
	out := cli(t, ctx, "pjsip show transports")
	for _, want := range []string{"transport-ws ", "transport-wss "} {
		if !strings.Contains(out, want) {
			t.Errorf("pjsip show transports lacks %s:\n%s", want, out)
		}
	}
	out = cli(t, ctx, "module show like srtp")
	if !strings.Contains(out, "res_srtp.so") || !strings.Contains(out, "Running") {
		t.Errorf("res_srtp is not running:\n%s", out)
	}
}

// The certificates live in the instance directory: a CA and a certificate
// it issued for DTLS-SRTP and HTTPS, which the asterisk user can read; the
// CA key is root's alone.
func TestCertificates(t *testing.T) {
	tls := filepath.Dir(inst.TLSCA)
	if tls != filepath.Join(inst.Dir, "tls") {
		t.Fatalf("TLSCA %s is not in the instance's tls directory", inst.TLSCA)
	}
	ca := readCert(t, inst.TLSCA)
	cert := readCert(t, filepath.Join(tls, "asterisk.crt"))
	if !ca.IsCA {
		t.Errorf("%s is not a CA certificate", inst.TLSCA)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err != nil {
		t.Errorf("asterisk.crt does not verify against the instance CA for localhost: %v", err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("asterisk.crt: %v", err)
	}
	uid, _, err := asterisk.AccountIDs(inst.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name  string
		owner int
		mode  os.FileMode
	}{
		{"asterisk.key", uid, 0o600},
		{"asterisk.crt", uid, 0o644},
		{"ca.crt", uid, 0o644},
		{"ca.key", 0, 0o600},
	} {
		st, err := os.Stat(filepath.Join(tls, f.name))
		if err != nil {
			t.Error(err)
			continue
		}
		if owner := int(fileOwner(st)); owner != f.owner || st.Mode().Perm() != f.mode {
			t.Errorf("%s: owner %d mode %v, want owner %d mode %v", f.name, owner, st.Mode().Perm(), f.owner, f.mode)
		}
	}
}

// An offer to a browser (the ACD rings PJSIP/webrtc-<agent>) is WebRTC:
// SAVPF over DTLS with the instance certificate's fingerprint, ICE with the
// media address as the only (host) candidate, rtcp-mux, Opus first. An
// offer to a desk phone is plain RTP/AVP without ICE or DTLS, as before.
func TestOffers(t *testing.T) {
	fingerprint := certFingerprint(t, filepath.Join(filepath.Dir(inst.TLSCA), "asterisk.crt"))
	t.Run("browser", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		p := dialWS(t, inst.SIPWebSocketURL, inst.TLSCA)
		endpoint := inst.WebRTCEndpoints["1003"]
		mustRegister(t, ctx, p, endpoint, inst.AgentPasswords["1003"])
		sdp := offer(t, ctx, p, endpoint)

		for _, re := range []string{
			`(?m)^m=audio [1-9][0-9]* UDP/TLS/RTP/SAVPF [0-9 ]+\r?$`,
			`(?m)^c=IN IP4 127\.0\.0\.1\r?$`,
			`(?m)^a=fingerprint:SHA-256 ` + regexp.QuoteMeta(fingerprint) + `\r?$`,
			`(?m)^a=setup:actpass\r?$`,
			`(?m)^a=ice-ufrag:\S+\r?$`,
			`(?m)^a=ice-pwd:\S+\r?$`,
			`(?m)^a=rtcp-mux\r?$`,
			`(?m)^a=rtpmap:[0-9]+ opus/48000/2\r?$`,
			`(?m)^a=rtpmap:0 PCMU/8000\r?$`,
		} {
			if !regexp.MustCompile(re).MatchString(sdp) {
				t.Errorf("offer to %s does not match %s:\n%s", endpoint, re, sdp)
			}
		}
		if m := regexp.MustCompile(`(?m)^m=audio \d+ \S+ (\d+)`).FindStringSubmatch(sdp); m == nil ||
			!regexp.MustCompile(`(?m)^a=rtpmap:`+m[1]+` opus/`).MatchString(sdp) {
			t.Errorf("Opus is not the first codec offered to %s:\n%s", endpoint, sdp)
		}
		cands := regexp.MustCompile(`(?m)^a=candidate:.*$`).FindAllString(sdp, -1)
		if len(cands) == 0 {
			t.Fatalf("offer to %s has no ICE candidate:\n%s", endpoint, sdp)
		}
		for _, c := range cands {
			f := strings.Fields(c)
			if len(f) < 8 || f[4] != "127.0.0.1" || f[7] != "host" {
				t.Errorf("candidate %q: want only host candidates on the media address 127.0.0.1", c)
			}
		}
		if strings.Contains(sdp, "a=crypto:") {
			t.Errorf("offer to %s carries SDES keys (a=crypto) beside DTLS:\n%s", endpoint, sdp)
		}
	})
	t.Run("desk phone", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		p := dialUDP(t, "127.0.0.2", inst.SIPAddr)
		mustRegister(t, ctx, p, "1003", inst.AgentPasswords["1003"])
		sdp := offer(t, ctx, p, "1003")
		if !regexp.MustCompile(`(?m)^m=audio [1-9][0-9]* RTP/AVP `).MatchString(sdp) {
			t.Errorf("offer to desk phone 1003 is not RTP/AVP:\n%s", sdp)
		}
		for _, attr := range []string{"a=ice-", "a=candidate", "a=fingerprint", "a=setup", "a=crypto", "a=rtcp-mux"} {
			if strings.Contains(sdp, attr) {
				t.Errorf("offer to desk phone 1003 has %s:\n%s", attr, sdp)
			}
		}
	})
}

// mustRegister registers user and removes the registration at cleanup.
func mustRegister(t *testing.T, ctx context.Context, p *phone, user, password string) {
	t.Helper()
	res, err := p.register(ctx, user, password, 300)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER %s: %d %s", user, res.StatusCode, res.Reason)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = p.register(ctx, user, password, 0)
	})
}

// offer has Asterisk call endpoint, answers the INVITE busy and returns
// its SDP.
func offer(t *testing.T, ctx context.Context, p *phone, endpoint string) string {
	t.Helper()
	cli(t, ctx, "channel originate PJSIP/"+endpoint+" application Wait 1")
	inv, err := p.nextRequest(ctx, sip.INVITE)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.respond(inv, sip.StatusBusyHere, "Busy Here"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.nextRequest(ctx, sip.ACK); err != nil {
		t.Errorf("ACK for 486: %v", err)
	}
	return string(inv.Body())
}

// findContact returns the URI of endpoint's registered contact, or "" if
// pjsip show contacts does not list one. That table cuts long URIs short,
// so the full URI comes from the AOR's contact list (pjsip show aor).
func findContact(t *testing.T, ctx context.Context, endpoint string) string {
	t.Helper()
	listed := false
	for _, line := range strings.Split(cli(t, ctx, "pjsip show contacts"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Contact:" && strings.HasPrefix(f[1], endpoint+"/sip:") {
			listed = true
		}
	}
	if !listed {
		return ""
	}
	uris := param(cli(t, ctx, "pjsip show aor "+endpoint), "contact")
	if uris == "" || uris == "<missing>" || strings.Contains(uris, ",") {
		t.Fatalf("aor %s lists contacts %q, want exactly one (max_contacts 1)", endpoint, uris)
	}
	return uris
}

func checkEndpoint(t *testing.T, ctx context.Context, name string, want map[string]string) {
	t.Helper()
	out := cli(t, ctx, "pjsip show endpoint "+name)
	for k, v := range want {
		if got := param(out, k); got != v {
			t.Errorf("endpoint %s: %s = %q, want %q", name, k, got, v)
		}
	}
}

// param returns the value of name in the ParameterName : ParameterValue
// table of a pjsip show command.
func param(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "<missing>"
}

func cli(t *testing.T, ctx context.Context, cmd string) string {
	t.Helper()
	out, err := inst.CLI(ctx, cmd)
	if err != nil {
		t.Fatalf("CLI %q: %v", cmd, err)
	}
	return out
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// certFingerprint is the SHA-256 fingerprint of a certificate as SDP
// writes it (upper-case hex pairs joined by colons).
func certFingerprint(t *testing.T, path string) string {
	t.Helper()
	sum := sha256.Sum256(readCert(t, path).Raw)
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(pairs, ":")
}
