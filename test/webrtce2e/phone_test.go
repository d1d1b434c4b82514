package webrtce2e

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/net/websocket"
)

// phone is a minimal SIP user agent, enough to register like a browser
// softphone (SIP over WebSocket, RFC 7118: one message per text frame,
// subprotocol "sip", a Contact host ending in .invalid) or like a desk
// phone (UDP), and to see the requests Asterisk sends it. Messages are
// built and parsed with sipgo's sip package. (sipgo's own WebSocket
// transport always dials the path "/", while Asterisk serves SIP at /ws.)
type phone struct {
	t         *testing.T
	transport string // "ws", "wss" or "udp"
	sentBy    string // Via sent-by and Contact host
	registrar string // host of the Request-URI and of From/To
	send      func([]byte) error
	conn      io.Closer

	responses chan *sip.Response
	requests  chan *sip.Request
	readErr   chan error

	mu   sync.Mutex
	cseq uint32
}

// dialWS connects to a SIP WebSocket URL (ws:// or wss://; for wss the
// server certificate must chain to the PEM CA file ca).
func dialWS(t *testing.T, url, ca string) *phone {
	t.Helper()
	cfg, err := websocket.NewConfig(url, "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Protocol = []string{"sip"}
	cfg.Dialer = &net.Dialer{Timeout: 5 * time.Second}
	transport := "ws"
	if strings.HasPrefix(url, "wss:") {
		transport = "wss"
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("%s holds no PEM certificate", ca)
		}
		cfg.TlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("dial %s (subprotocol sip): %v", url, err)
	}
	if ws.Config().Protocol == nil || ws.Config().Protocol[0] != "sip" {
		t.Fatalf("%s did not accept the subprotocol sip: %v", url, ws.Config().Protocol)
	}
	p := newPhone(t, transport, randomToken(8)+".invalid", cfg.Location.Hostname(), ws)
	p.send = func(b []byte) error { return websocket.Message.Send(ws, string(b)) }
	go p.read(func() ([]byte, error) {
		var frame string
		err := websocket.Message.Receive(ws, &frame)
		return []byte(frame), err
	})
	return p
}

// dialUDP opens a UDP socket on bindHost (outside the trunk's addresses)
// towards the registrar at addr.
func dialUDP(t *testing.T, bindHost, addr string) *phone {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(bindHost)})
	if err != nil {
		t.Fatalf("listen on %s: %v", bindHost, err)
	}
	p := newPhone(t, "udp", conn.LocalAddr().String(), raddr.IP.String(), conn)
	p.send = func(b []byte) error { _, err := conn.WriteToUDP(b, raddr); return err }
	go p.read(func() ([]byte, error) {
		buf := make([]byte, 65535)
		n, _, err := conn.ReadFromUDP(buf)
		return buf[:n], err
	})
	return p
}

func newPhone(t *testing.T, transport, sentBy, registrar string, conn io.Closer) *phone {
	p := &phone{
		t: t, transport: transport, sentBy: sentBy, registrar: registrar, conn: conn,
		responses: make(chan *sip.Response, 16),
		requests:  make(chan *sip.Request, 16),
		readErr:   make(chan error, 1),
	}
	t.Cleanup(func() { _ = conn.Close() })
	return p
}

// read parses every message that next returns and routes it to responses
// or requests until next fails.
func (p *phone) read(next func() ([]byte, error)) {
	for {
		b, err := next()
		if err != nil {
			p.readErr <- err
			return
		}
		msg, err := sip.ParseMessage(b)
		if err != nil {
			p.readErr <- fmt.Errorf("unparsable message from Asterisk: %w:\n%s", err, b)
			return
		}
		switch m := msg.(type) {
		case *sip.Response:
			p.responses <- m
		case *sip.Request:
			p.requests <- m
		}
	}
}

// Close closes the connection (a browser tab going away).
func (p *phone) Close() error { return p.conn.Close() }

// register sends REGISTER for user with the given expiry, answers a digest
// challenge with password and returns the final response.
func (p *phone) register(ctx context.Context, user, password string, expires int) (*sip.Response, error) {
	callID := randomToken(16)
	tag := randomToken(8)
	build := func() *sip.Request {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: p.registrar})
		aor := fmt.Sprintf("<sip:%s@%s>", user, p.registrar)
		req.AppendHeader(sip.NewHeader("From", aor+";tag="+tag))
		req.AppendHeader(sip.NewHeader("To", aor))
		contact := fmt.Sprintf("<sip:%s@%s", user, p.sentBy)
		if p.transport != "udp" {
			contact += ";transport=ws" // RFC 7118: "ws" for WS and WSS alike
		}
		req.AppendHeader(sip.NewHeader("Contact", contact+">"))
		req.AppendHeader(sip.NewHeader("Call-ID", callID))
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
		return req
	}
	res, err := p.do(ctx, build())
	if err != nil || res.StatusCode != sip.StatusUnauthorized {
		return res, err
	}
	req := build()
	auth, err := digestAuthorization(res, "REGISTER", req.Recipient.String(), user, password)
	if err != nil {
		return nil, err
	}
	req.AppendHeader(sip.NewHeader("Authorization", auth))
	return p.do(ctx, req)
}

// do completes req (Via, CSeq, Max-Forwards, User-Agent), sends it and
// returns its final response.
func (p *phone) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	p.mu.Lock()
	p.cseq++
	seq := p.cseq
	p.mu.Unlock()
	branch := "z9hG4bK" + randomToken(12)
	req.PrependHeader(sip.NewHeader("Via", fmt.Sprintf("SIP/2.0/%s %s;rport;branch=%s", strings.ToUpper(p.transport), p.sentBy, branch)))
	req.AppendHeader(sip.NewHeader("CSeq", fmt.Sprintf("%d %s", seq, req.Method)))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("User-Agent", "ccd-webrtce2e"))
	req.SetBody(nil)
	if err := p.send([]byte(req.String())); err != nil {
		return nil, fmt.Errorf("send %s: %w", req.Method, err)
	}
	for {
		select {
		case res := <-p.responses:
			if via := res.Via(); via == nil || !strings.Contains(via.Value(), branch) {
				continue // a late response to an earlier request
			}
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case err := <-p.readErr:
			return nil, err
		case <-ctx.Done():
			return nil, fmt.Errorf("no final response to %s: %w", req.Method, ctx.Err())
		}
	}
}

// ack acknowledges a final non-2xx response to an INVITE sent with do
// (RFC 3261 17.1.1.3: same branch, To with the response's tag).
func (p *phone) ack(inv *sip.Request, res *sip.Response) error {
	ack := sip.NewRequest(sip.ACK, inv.Recipient)
	ack.AppendHeader(sip.HeaderClone(inv.Via()))
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(sip.NewHeader("CSeq", fmt.Sprintf("%d ACK", inv.CSeq().SeqNo)))
	ack.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	ack.SetBody(nil)
	return p.send([]byte(ack.String()))
}

// nextRequest returns the next request Asterisk sends with the method.
func (p *phone) nextRequest(ctx context.Context, method sip.RequestMethod) (*sip.Request, error) {
	for {
		select {
		case req := <-p.requests:
			if req.Method == method {
				return req, nil
			}
		case err := <-p.readErr:
			return nil, err
		case <-ctx.Done():
			return nil, fmt.Errorf("no %s from Asterisk: %w", method, ctx.Err())
		}
	}
}

// respond answers req with a final status and no body.
func (p *phone) respond(req *sip.Request, code int, reason string) error {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	return p.send([]byte(res.String()))
}

// digestAuthorization answers the MD5 digest challenge in res (RFC 2617,
// qop auth when offered).
func digestAuthorization(res *sip.Response, method, uri, user, password string) (string, error) {
	var challenge map[string]string
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c := parseChallenge(h.Value())
		if c != nil && (c["algorithm"] == "" || strings.EqualFold(c["algorithm"], "MD5")) {
			challenge = c
			break
		}
	}
	if challenge == nil {
		return "", fmt.Errorf("no MD5 digest challenge in %d response:\n%s", res.StatusCode, res)
	}
	hash := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	ha1 := hash(user + ":" + challenge["realm"] + ":" + password)
	ha2 := hash(method + ":" + uri)
	fields := []string{
		fmt.Sprintf("username=%q", user), fmt.Sprintf("realm=%q", challenge["realm"]),
		fmt.Sprintf("nonce=%q", challenge["nonce"]), fmt.Sprintf("uri=%q", uri), "algorithm=MD5",
	}
	var response string
	if qops := challenge["qop"]; qops != "" && strings.Contains(","+strings.ReplaceAll(qops, " ", "")+",", ",auth,") {
		cnonce, nc := randomToken(8), "00000001"
		response = hash(ha1 + ":" + challenge["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
		fields = append(fields, "qop=auth", "nc="+nc, fmt.Sprintf("cnonce=%q", cnonce))
	} else {
		response = hash(ha1 + ":" + challenge["nonce"] + ":" + ha2)
	}
	fields = append(fields, fmt.Sprintf("response=%q", response))
	if o, ok := challenge["opaque"]; ok {
		fields = append(fields, fmt.Sprintf("opaque=%q", o))
	}
	return "Digest " + strings.Join(fields, ", "), nil
}

// parseChallenge parses `Digest k=v, k="v"` into a map, or returns nil.
func parseChallenge(v string) map[string]string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil
	}
	out := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil
		}
		k = strings.ToLower(strings.TrimSpace(k))
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				return nil
			}
			val, after = after[1:end+1], after[end+2:]
		} else {
			val, after, _ = strings.Cut(after, ",")
			after = "," + after
		}
		out[k] = strings.TrimSpace(val)
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(after), ","))
	}
	return out
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)[:n]
}
