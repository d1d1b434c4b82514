package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// fakeCCD is the smallest ccd the desktop can be driven against in a
// browser: login with a session cookie and CSRF token, one agent's state,
// an offered call with its screen pop, call control, wrap-up, customers,
// the event WebSocket, and a SIP WebSocket that accepts REGISTER. It checks
// what the real server checks at the edge (cookie, CSRF token, JSON) and
// records what the page did. Test hooks under /test/ stand for the ACD.
type fakeCCD struct {
	mu         sync.Mutex
	session    string // cookie value of the one logged-in session
	csrf       string
	state      stateDoc
	seq        uint64
	clients    map[chan []byte]context.CancelFunc
	streams    int // event WebSockets opened
	stateGets  int
	registers  int
	violations []string // requests the real server would refuse
	wrapups    map[string]map[string]string
	customers  []map[string]any
	history    []map[string]any
	pops       map[string]map[string]any
	callerOf   map[string]string
	calls      []string // "POST /api/v1/calls/c1/answer"...
	sipConn    *websocket.Conn
	sipCall    sipDialog // the INVITE sent to the softphone
	sipLog     []string  // first lines of the SIP messages the softphone sent
}

// sipDialog is the call the fake rings the softphone with.
type sipDialog struct {
	call, callID, from string
}

type stateDoc struct {
	Agent  string `json:"agent"`
	State  string `json:"state"`
	Since  string `json:"since"`
	Reason string `json:"reason,omitempty"`
	CallID string `json:"call_id,omitempty"`
}

const (
	fakeUser     = "alice"
	fakePassword = "secret-of-alice"
	fakeAgent    = "1001"
	cookieName   = "ccd_session"
)

func newFakeCCD() *fakeCCD {
	return &fakeCCD{
		state:    stateDoc{Agent: fakeAgent, State: "logged_out", Since: now()},
		clients:  map[chan []byte]context.CancelFunc{},
		wrapups:  map[string]map[string]string{},
		pops:     map[string]map[string]any{},
		callerOf: map[string]string{},
	}
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (f *fakeCCD) routes(mux *http.ServeMux, sipURL func(*http.Request) string) {
	mux.HandleFunc("POST /api/v1/auth/login", f.login)
	mux.HandleFunc("POST /api/v1/auth/logout", f.auth(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.session = ""
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: cookieName, Path: "/", MaxAge: -1})
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /api/v1/me", f.auth(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"user": fakeUserDoc(), "csrf_token": f.csrf,
			"sip": map[string]string{"ws_url": sipURL(r), "uri": "sip:1001@127.0.0.1", "password": "sip-secret", "display_name": "李娜"}})
	}))
	mux.HandleFunc("GET /api/v1/pause-reasons", f.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"pause_reasons": []map[string]any{
			{"code": "lunch", "label": "午餐"}, {"code": "training", "label": "培训", "productive": true},
			{"code": "missed_offers", "label": "未接来电"}}})
	}))
	mux.HandleFunc("GET /api/v1/agents/{id}/state", f.auth(f.own(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stateGets++
		writeJSON(w, 200, f.state)
	})))
	mux.HandleFunc("GET /api/v1/agents/{id}/calls", f.auth(f.own(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list := append([]map[string]any{}, f.history...)
		writeJSON(w, 200, map[string]any{"agent": fakeAgent, "calls": list})
	})))
	for act, to := range map[string]string{"login": "available", "ready": "available", "logout": "logged_out", "pause": "paused"} {
		mux.HandleFunc("POST /api/v1/agents/{id}/"+act, f.auth(f.own(func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Reason string `json:"reason"`
			}
			if act == "pause" {
				if err := decode(r, &body); err != nil || body.Reason == "" {
					writeErr(w, 422, `body: "reason" is required`)
					return
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.state.State == "on_call" || f.state.State == "reserved" {
				writeErr(w, 409, "illegal transition: "+f.state.State+" → "+to)
				return
			}
			f.setState(to, body.Reason, "")
			writeJSON(w, 200, f.state)
		})))
	}
	mux.HandleFunc("POST /api/v1/calls/{id}/{act}", f.auth(f.callAct))
	mux.HandleFunc("GET /api/v1/calls/{id}/screen-pop", f.auth(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if p, ok := f.pops[r.PathValue("id")]; ok {
			writeJSON(w, 200, p)
			return
		}
		writeErr(w, 404, "no such call")
	}))
	mux.HandleFunc("POST /api/v1/customers", f.auth(func(w http.ResponseWriter, r *http.Request) {
		var c map[string]any
		if err := decode(r, &c); err != nil || c["name"] == "" {
			writeErr(w, 422, "name is required")
			return
		}
		for k := range c {
			switch k {
			case "name", "level", "company", "phones", "contacts", "notes":
			default:
				writeErr(w, 400, "unknown field "+k)
				return
			}
		}
		c["id"] = token()
		f.mu.Lock()
		f.customers = append(f.customers, c)
		f.mu.Unlock()
		writeJSON(w, 201, c)
	}))
	mux.HandleFunc("GET /api/v1/events", f.auth(f.events))

	// Hooks for the test: what the ACD and the network would do.
	mux.HandleFunc("POST /test/offer", f.offer)
	mux.HandleFunc("POST /test/ring", f.ring)
	mux.HandleFunc("POST /test/drop", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if st := r.URL.Query().Get("state"); st != "" { // changed while the stream is down: no event
			f.state = stateDoc{Agent: fakeAgent, State: st, Reason: r.URL.Query().Get("reason"), Since: now()}
		}
		for ch, cancel := range f.clients {
			cancel()
			delete(f.clients, ch)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func fakeUserDoc() map[string]string {
	return map[string]string{"username": fakeUser, "display_name": "李娜", "role": "agent", "agent_id": fakeAgent}
}

func decode(r *http.Request, v any) error {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("not JSON")
	}
	return json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(v)
}

func (f *fakeCCD) login(w http.ResponseWriter, r *http.Request) {
	var body struct{ Username, Password string }
	if err := decode(r, &body); err != nil {
		writeErr(w, 400, "send the credentials as application/json")
		return
	}
	if body.Username != fakeUser || body.Password != fakePassword {
		writeErr(w, 401, "wrong username or password")
		return
	}
	f.mu.Lock()
	f.session, f.csrf = token(), token()
	s, c := f.session, f.csrf
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, 200, map[string]any{"user": fakeUserDoc(), "csrf_token": c, "expires_at": time.Now().Add(24 * time.Hour)})
}

// auth is the session check of the real server: the cookie, and the CSRF
// token on every state-changing request.
func (f *fakeCCD) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		f.mu.Lock()
		ok := err == nil && f.session != "" && c.Value == f.session
		csrfOK := r.Header.Get("X-CSRF-Token") == f.csrf
		if !ok && r.URL.Path != "/api/v1/me" {
			f.violations = append(f.violations, "no session: "+r.Method+" "+r.URL.Path)
		}
		if ok && r.Method != http.MethodGet && !csrfOK {
			f.violations = append(f.violations, "no CSRF token: "+r.Method+" "+r.URL.Path)
		}
		f.mu.Unlock()
		switch {
		case !ok:
			writeErr(w, 401, "not logged in")
		case r.Method != http.MethodGet && !csrfOK:
			writeErr(w, 403, "forbidden: CSRF token missing or wrong")
		default:
			h(w, r)
		}
	}
}

func (f *fakeCCD) own(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != fakeAgent {
			writeErr(w, 403, "forbidden: not your agent")
			return
		}
		h(w, r)
	}
}

// setState changes the agent's state and sends agent.state (f.mu held).
func (f *fakeCCD) setState(to, reason, call string) {
	from := f.state.State
	f.state = stateDoc{Agent: fakeAgent, State: to, Reason: reason, CallID: call, Since: now()}
	f.seq++
	f.publish("agent.state", f.seq, map[string]any{"agent": fakeAgent, "from": from, "to": to, "reason": reason,
		"call_id": call, "at": f.state.Since})
}

// publish sends an envelope to every event stream (f.mu held).
func (f *fakeCCD) publish(typ string, seq uint64, data any) {
	raw, _ := json.Marshal(data)
	env := map[string]any{"id": token(), "type": typ, "version": 1, "time": now(), "source": "fake-ccd", "data": json.RawMessage(raw)}
	if seq > 0 {
		env["seq"] = seq
	}
	b, _ := json.Marshal(env)
	for ch := range f.clients {
		select {
		case ch <- b:
		default: // too slow: the real hub drops it too
		}
	}
}

func (f *fakeCCD) events(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // same origin only (the library's default)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	ch := make(chan []byte, 64)
	f.mu.Lock()
	f.clients[ch] = cancel
	f.streams++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.clients, ch)
		f.mu.Unlock()
		cancel()
		_ = c.CloseNow()
	}()
	go func() { // reads to notice a close
		for {
			if _, _, err := c.Read(ctx); err != nil {
				cancel()
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			_ = c.Close(websocket.StatusGoingAway, "bye")
			return
		case b := <-ch:
			if err := c.Write(ctx, websocket.MessageText, b); err != nil {
				return
			}
		}
	}
}

// offer plays the ACD offering a call to the agent: queue.offered, the
// agent reserved, the screen pop. ?call=&caller=&new=1 (a new caller).
func (f *fakeCCD) offer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	call, caller := q.Get("call"), q.Get("caller")
	var customer any = map[string]any{"id": "cust-1", "name": "王建国", "level": "vip", "company": "鲜丰超市",
		"phones": []string{caller}, "notes": "每周采购猪肉"}
	if q.Get("new") == "1" {
		customer = nil
	}
	pop := map[string]any{
		"call_id": call, "agent": fakeAgent, "caller": caller, "did": "4006001001", "customer": customer,
		"ivr": map[string]string{"path": "2>1>0", "language": "zh", "trace_code": "6901234567892",
			"trace_result": "猪肉（前腿）批次 B2026-1108，产地 山东临沂 绿野养殖场，检疫合格"},
		"queue": "trace", "waited_ms": 12000,
		"history": []map[string]any{{"at": time.Now().Add(-72 * time.Hour).UTC(), "agent": "张敏", "disposition": "resolved", "notes": "询问追溯码位置"}},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state.State != "available" {
		http.Error(w, "agent not available: "+f.state.State, http.StatusConflict)
		return
	}
	f.pops[call], f.callerOf[call] = pop, caller
	f.publish("queue.offered", 0, map[string]any{"call_id": call, "queue": "trace", "agent": fakeAgent,
		"device": "PJSIP/1001", "caller": caller, "waited_ms": 12000, "at": now()})
	f.setState("reserved", "", call)
	f.publish("desk.screen_pop", 0, pop)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeCCD) callAct(w http.ResponseWriter, r *http.Request) {
	call, act := r.PathValue("id"), r.PathValue("act")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if _, ok := f.pops[call]; !ok {
		writeErr(w, 404, "no such call")
		return
	}
	switch act {
	case "answer":
		if f.state.State != "reserved" || f.state.CallID != call {
			writeErr(w, 409, "not offered to you")
			return
		}
		f.publish("queue.connected", 0, map[string]any{"call_id": call, "queue": "trace", "agent": fakeAgent, "waited_ms": 12000, "at": now()})
		f.setState("on_call", "", call)
	case "hangup":
		if f.state.State != "on_call" || f.state.CallID != call {
			writeErr(w, 409, "not on this call")
			return
		}
		f.publish("call.ended", 0, map[string]any{"call_id": call, "outcome": "completed", "hangup_by": "agent"})
		f.setState("wrap_up", "", call)
	case "hold", "resume", "transfer", "conference":
	case "wrapup":
		var b map[string]string
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b["disposition"] == "" {
			writeErr(w, 422, "disposition is required")
			return
		}
		f.wrapups[call] = b
		f.history = append([]map[string]any{{"call_id": call, "at": now(), "caller": f.callerOf[call], "did": "4006001001",
			"outcome": "completed", "agent_id": fakeAgent, "disposition": b["disposition"], "notes": b["notes"]}}, f.history...)
		if f.state.State == "wrap_up" {
			f.setState("available", "", "")
		}
		writeJSON(w, 201, b)
		return
	default:
		writeErr(w, 404, "unknown call action "+act)
		return
	}
	writeJSON(w, 200, map[string]string{"call_id": call, "result": act})
}

// sip answers the softphone's SIP over WebSocket (RFC 7118): 200 OK to
// REGISTER (and to anything else it asks), so the page shows it registered.
func (f *fakeCCD) sip(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	if c.Subprotocol() != "sip" {
		_ = c.Close(websocket.StatusPolicyViolation, "sip subprotocol required")
		return
	}
	f.mu.Lock()
	f.sipConn = c
	f.mu.Unlock()
	ctx := r.Context()
	for {
		_, raw, err := c.Read(ctx)
		if err != nil {
			return
		}
		msg := string(raw)
		first, _, _ := strings.Cut(msg, "\r\n")
		f.mu.Lock()
		f.sipLog = append(f.sipLog, first)
		f.mu.Unlock()
		if strings.HasPrefix(first, "SIP/2.0 ") {
			f.sipResponse(ctx, c, first, msg)
			continue
		}
		resp, method := sipOK(msg)
		if resp == "" {
			continue
		}
		f.mu.Lock()
		switch method {
		case "REGISTER":
			f.registers++
		case "BYE": // the agent hung up on the softphone
			if call := f.sipCall.call; call != "" && f.state.CallID == call && f.state.State == "on_call" {
				f.publish("call.ended", 0, map[string]any{"call_id": call, "outcome": "completed", "hangup_by": "agent"})
				f.setState("wrap_up", "", call)
			}
			f.sipCall = sipDialog{}
		}
		f.mu.Unlock()
		if err := c.Write(ctx, websocket.MessageText, []byte(resp)); err != nil {
			return
		}
	}
}

// ring sends the softphone an INVITE for the call offered to the agent, as
// Asterisk does when the ACD rings the agent's device. ?call=&caller=
func (f *fakeCCD) ring(w http.ResponseWriter, r *http.Request) {
	call, caller := r.URL.Query().Get("call"), r.URL.Query().Get("caller")
	f.mu.Lock()
	c := f.sipConn
	d := sipDialog{call: call, callID: token(), from: fmt.Sprintf(`"%s" <sip:%s@127.0.0.1>;tag=%s`, caller, caller, token()[:8])}
	f.sipCall = d
	f.mu.Unlock()
	if c == nil {
		http.Error(w, "the softphone is not connected", http.StatusConflict)
		return
	}
	sdp := strings.Join([]string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "a=mid:0", "a=ice-ufrag:fake", "a=ice-pwd:fakefakefakefakefakefake",
		"a=fingerprint:sha-256 " + strings.TrimSuffix(strings.Repeat("AB:", 32), ":"), "a=setup:actpass",
		"a=rtcp-mux", "a=sendrecv", "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000", ""}, "\r\n")
	invite := "INVITE sip:1001@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/WSS fake.invalid;branch=z9hG4bK" + token()[:10] + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: " + d.from + "\r\n" +
		"To: <sip:1001@127.0.0.1>\r\n" +
		"Call-ID: " + d.callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:ccd@fake.invalid;transport=ws>\r\n" +
		"Content-Type: application/sdp\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(sdp)) + sdp
	if err := c.Write(r.Context(), websocket.MessageText, []byte(invite)); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sipResponse handles the softphone's answer to the INVITE: a final answer
// is acknowledged; a 200 OK connects the call, as the ACD does when the
// agent's device answers.
func (f *fakeCCD) sipResponse(ctx context.Context, c *websocket.Conn, first, msg string) {
	var code int
	_, _ = fmt.Sscanf(first, "SIP/2.0 %d", &code)
	hdr := sipHeaders(msg)
	if !strings.Contains(hdr["cseq"], "INVITE") || code < 200 {
		return
	}
	f.mu.Lock()
	d := f.sipCall
	if d.callID == "" || hdr["call-id"] != d.callID {
		f.mu.Unlock()
		return
	}
	if code == 200 && f.state.State == "reserved" && f.state.CallID == d.call {
		f.publish("queue.connected", 0, map[string]any{"call_id": d.call, "queue": "trace", "agent": fakeAgent, "waited_ms": 12000, "at": now()})
		f.setState("on_call", "", d.call)
	}
	if code != 200 {
		f.sipCall = sipDialog{}
	}
	f.mu.Unlock()
	target := "sip:1001@127.0.0.1"
	if m := hdr["contact"]; m != "" {
		if i, j := strings.Index(m, "<"), strings.Index(m, ">"); i >= 0 && j > i {
			target = m[i+1 : j]
		}
	}
	ack := "ACK " + target + " SIP/2.0\r\n" +
		"Via: SIP/2.0/WSS fake.invalid;branch=z9hG4bK" + token()[:10] + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: " + d.from + "\r\n" +
		"To: " + hdr["to"] + "\r\n" +
		"Call-ID: " + d.callID + "\r\n" +
		"CSeq: 1 ACK\r\n" +
		"Content-Length: 0\r\n\r\n"
	_ = c.Write(ctx, websocket.MessageText, []byte(ack))
}

// sipHeaders returns a message's headers by lower-case name (the first of each).
func sipHeaders(msg string) map[string]string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	out := map[string]string{}
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, value, ok := strings.Cut(l, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if _, seen := out[name]; ok && !seen {
			out[name] = strings.TrimSpace(value)
		}
	}
	return out
}

// sipOK builds a 200 OK for a SIP request; "" for a response or an ACK.
func sipOK(req string) (resp, method string) {
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	method, _, _ = strings.Cut(lines[0], " ")
	if method == "" || strings.HasPrefix(lines[0], "SIP/2.0") || method == "ACK" {
		return "", method
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 200 OK\r\n")
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
			b.WriteString(l + "\r\n")
		case "to", "t":
			if !strings.Contains(value, ";tag=") {
				l += ";tag=" + token()[:8]
			}
			b.WriteString(l + "\r\n")
		case "contact", "m":
			if method == "REGISTER" {
				b.WriteString(l + "\r\nExpires: 600\r\n")
			}
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String(), method
}
