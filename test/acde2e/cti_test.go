package acde2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/sipagent"
)

// Desktop commands over NATS reach the ACD: an agent logs in, pauses with a
// reason and goes ready; the snapshot shows it; acting on another agent is
// forbidden; a team leader may.
func TestCTICommandsDriveTheACD(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	putAgent(t, "1002", 0, map[acd.Skill]int{"general": 3})
	nc, err := nats.Connect(stack.CCD().NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := cti.NewClient(nc, cti.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	li := cti.Identity{User: "li.na", Role: cti.RoleAgent, Agent: "1001"}
	st, err := c.Login(ctx, li, cti.LoginRequest{})
	if err != nil || st.State != string(acd.Available) {
		t.Fatalf("login: %+v %v", st, err)
	}
	t.Cleanup(func() { logoutEventually(t, "1001") })
	if st, err = c.Pause(ctx, li, cti.PauseRequest{Reason: "lunch"}); err != nil || st.State != string(acd.Paused) || st.Reason != "lunch" {
		t.Fatalf("pause: %+v %v", st, err)
	}
	if _, err := c.Pause(ctx, li, cti.PauseRequest{Reason: "no-such-reason"}); !errors.Is(err, cti.ErrInvalid) {
		t.Errorf("unknown pause reason: %v, want invalid", err)
	}
	snap, err := c.Snapshot(ctx, li, cti.SnapshotRequest{})
	if err != nil || snap.State != string(acd.Paused) || snap.Reason != "lunch" || snap.Seq == 0 {
		t.Fatalf("snapshot: %+v %v", snap, err)
	}
	if a := agentState(t, "1001"); a.State != acd.Paused {
		t.Fatalf("ACD has 1001 %s", a.State)
	}
	// Another agent's seat is not theirs.
	if _, err := c.Login(ctx, li, cti.LoginRequest{Agent: "1002"}); !errors.Is(err, cti.ErrForbidden) {
		t.Fatalf("agent 1001 logging in 1002: %v, want forbidden", err)
	}
	// A team leader may act for an agent.
	lead := cti.Identity{User: "wang.lead", Role: cti.RoleTeamLeader}
	if st, err = c.Ready(ctx, lead, cti.ReadyRequest{Agent: "1001"}); err != nil || st.State != string(acd.Available) {
		t.Fatalf("team leader makes 1001 ready: %+v %v", st, err)
	}
	// Logging in again changes nothing; illegal transitions come back typed.
	if st, err := c.Login(ctx, li, cti.LoginRequest{}); err != nil || st.State != string(acd.Available) {
		t.Errorf("second login: %+v %v, want available", st, err)
	}
	if _, err := c.Pause(ctx, li, cti.PauseRequest{Reason: "lunch"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pause(ctx, li, cti.PauseRequest{Reason: "break"}); !errors.Is(err, cti.ErrIllegalState) {
		t.Errorf("pause while paused: %v, want illegal_state", err)
	}
}

// A known VIP customer waits at VIP priority, and the agent's desktop gets
// the screen pop with the customer and what the IVR collected as the phone
// rings.
func TestScreenPopAndCustomerPriority(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	putQueue(t, testQueue("pop"))
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startAgent(t, ctx, "1001", talk1s)
	login(t, "1001")
	const did = "4006002014"
	queueFlow(t, did, "pop", "0")
	caller := callerNumber()
	mustAPI(t, http.MethodPost, "/api/v1/customers", map[string]any{
		"name": "Chen Jing", "level": "vip", "company": "Green Valley Farm", "phones": []string{caller}})

	dial(t, ctx, caller, did, 30*time.Second, "")
	id := callID(t, ctx, caller)
	if q := queued(t, ctx, id); q.Priority != 10 {
		t.Errorf("VIP customer queued at priority %d, want 10", q.Priority)
	}
	var pop cti.ScreenPop
	waitQueueEvent(t, ctx, "desk.screen_pop", ofCall(id), &pop)
	var cust struct {
		Name  string `json:"name"`
		Level string `json:"level"`
	}
	if err := json.Unmarshal(pop.Customer, &cust); err != nil || cust.Name != "Chen Jing" || cust.Level != "vip" {
		t.Fatalf("screen pop customer %s (%v)", pop.Customer, err)
	}
	if pop.Agent != "1001" || pop.Caller != caller || pop.DID != did || pop.Queue != "pop" || pop.NewCaller {
		t.Fatalf("screen pop %+v", pop)
	}
	if pop.IVR["language"] != "en" {
		t.Errorf("IVR context %v lacks the language", pop.IVR)
	}
	connected(t, ctx, id)
}

// Call control over HTTP: hold is not available yet and says so; hang-up
// ends the agent's side and the caller's; another agent may not.
func TestCallControlOverHTTP(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	putQueue(t, testQueue("ctl"))
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startAgent(t, ctx, "1001", sipagent.Behaviour{AnswerAfter: 100 * time.Millisecond})
	login(t, "1001")
	mustAPI(t, http.MethodPost, "/api/v1/agents/1001/login", nil) // logging in again changes nothing
	if st := agentState(t, "1001"); st.State != acd.Available {
		t.Fatalf("agent 1001 after a second login: %s", st.State)
	}
	const did = "4006002015"
	queueFlow(t, did, "ctl", "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 40*time.Second, "")
	id := callID(t, ctx, from)
	connected(t, ctx, id)
	mustAPI(t, http.MethodPost, "/api/v1/calls/"+id+"/hold", map[string]string{"agent": "1001"})
	mustAPI(t, http.MethodPost, "/api/v1/calls/"+id+"/resume", map[string]string{"agent": "1001"})
	if code, body := api(t, http.MethodPost, "/api/v1/calls/"+id+"/transfer", map[string]string{"agent": "1001", "kind": "queue", "to": "ctl", "mode": "sideways"}); code != http.StatusUnprocessableEntity {
		t.Errorf("transfer with an unknown mode: %d %s, want 422", code, body)
	}
	if code, body := api(t, http.MethodPost, "/api/v1/calls/"+id+"/hangup", map[string]string{"agent": "1002"}); code != http.StatusForbidden {
		t.Errorf("hang-up by agent 1002 of 1001's call: %d %s, want 403", code, body)
	}
	mustAPI(t, http.MethodPost, "/api/v1/calls/"+id+"/hangup", map[string]string{"agent": "1001"})
	res, err := s.Wait()
	if err != nil || res.HungUpBy != "remote" {
		t.Fatalf("caller after the agent's hang-up: %v %+v", err, res)
	}
	checkRecord(t, ctx, id, "agent")
}

// An agent logs in to the desktop with a session cookie and gets their
// browser softphone's WebRTC seat.
func TestDesktopLoginGivesSoftphoneSeat(t *testing.T) {
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	mustAPI(t, http.MethodPut, "/api/v1/users/li.na", map[string]any{"username": "li.na", "display_name": "Li Na",
		"role": "agent", "agent_id": "1001", "password": "correct-horse-battery"})
	base := "http://" + stack.Config.HTTP.Listen
	body, _ := json.Marshal(map[string]string{"username": "li.na", "password": "correct-horse-battery"})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		User struct {
			Agent string `json:"agent_id"`
		} `json:"user"`
		SIP *struct {
			WSURL    string `json:"ws_url"`
			URI      string `json:"uri"`
			Password string `json:"password"`
		} `json:"sip"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	if ans.User.Agent != "1001" || ans.SIP == nil {
		t.Fatalf("login answer %+v lacks the agent's softphone seat", ans)
	}
	if ans.SIP.URI != "sip:webrtc-1001@127.0.0.1" || ans.SIP.WSURL != stack.Asterisk.SIPWebSocketURL || ans.SIP.Password != stack.Asterisk.AgentPasswords["1001"] {
		t.Fatalf("softphone seat %+v, want webrtc-1001 on %s", ans.SIP, stack.Asterisk.SIPWebSocketURL)
	}
}
