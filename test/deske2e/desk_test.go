package deske2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
	"github.com/ccd-platform/ccd/trace"
)

const (
	browserAgent = "1001" // Li Na, in the browser: desk user li.na, softphone webrtc-1001
	phoneAgent   = "1002" // a SIP desk phone (diago) that answers by itself
	deskUser     = "li.na"
	deskPassword = "deske2e-correct-horse-battery"
	did          = "4006003001"
	queueID      = "trace"

	// Each party sends its own tone, so what one hears tells whom it hears.
	browserHz = 1200.0 // the browser's fake microphone
	callerHz  = 700.0  // the caller, once connected to an agent
	phoneHz   = 1600.0 // agent 1002's phone

	customerName  = "陈静"
	customerLevel = "VIP 客户" // level vip as the Chinese page shows it
	wrapupNotes   = "客户询问猪五花的产地与检疫，已逐项告知。"
)

// The whole desk, for real: agent 1001 logs in to the desktop in Chromium,
// the JsSIP softphone registers as webrtc-1001 and the agent goes ready. A
// VIP customer calls the hotline, keys a trace code and asks for an agent;
// the screen pop shows the caller, the customer and the lookup's result.
// The agent answers in the page (F2) and audio flows both ways over WebRTC
// (each side's tone found in what the other received). Then hold, resume
// and a transfer to agent 1002 from the page's buttons, the caller hearing
// hold music and then agent 1002. Last the agent hangs up (or the transfer
// ended the agent's leg) and saves the wrap-up, which is stored with the
// call's record.
func TestDeskCallEndToEnd(t *testing.T) {
	ctx := ctxFor(t, 6*time.Minute)
	art := artifactsDir(t)
	rec := setup(t, ctx)
	vars := trace.Vars(&rec, "en", time.Now())
	traceResult := vars["trace.product"] + ", " + vars["trace.origin"]

	mic := filepath.Join(art, "browser-mic.wav")
	// Ten seconds of a whole number of periods: Chromium loops it seamlessly.
	if err := audio.WriteWAVFile(mic, audio.Tone(browserHz, 10*time.Second, -10, 48000)); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, "http://"+stack.Config.HTTP.Listen, art, mic)
	t.Cleanup(func() { logoutEventually(t, browserAgent) })

	top := t
	caller := callerNumber()
	var (
		s           *sipcall.Session
		callID      string
		transferred bool
	)

	// 1. Log in, the softphone registers, the agent goes ready.
	if !t.Run("1_login_softphone_ready", func(t *testing.T) {
		var got struct {
			Who, Phone, State string
		}
		b.must(t, "login", "login", map[string]string{"user": deskUser, "password": deskPassword}, 60*time.Second, &got)
		if !strings.Contains(got.Who, "1001") || got.State != string(acd.LoggedOut) {
			t.Errorf("after login the header shows %q and the state %q, want agent 1001 logged out", got.Who, got.State)
		}
		if got.Phone != "已注册" {
			t.Errorf("softphone status %q, want 已注册 (registered)", got.Phone)
		}
		if c := contact(t, ctx, "webrtc-"+browserAgent); !strings.Contains(strings.ToLower(c), "transport=ws") {
			t.Errorf("Asterisk's contact of webrtc-%s is %q, want the browser's (transport=ws)", browserAgent, c)
		}
		b.must(t, "ready", "ready", nil, 30*time.Second, nil)
		if st := agentState(t, browserAgent); st != acd.Available {
			t.Fatalf("the ACD has agent %s %s after 签入 in the page, want available", browserAgent, st)
		}
	}) {
		t.FailNow()
	}

	// 2-3. A VIP customer calls, keys a trace code and asks for an agent;
	// the page pops the call.
	if !t.Run("2_3_call_and_screen_pop", func(t *testing.T) {
		mustAPI(t, http.MethodPost, "/api/v1/customers", map[string]any{
			"name": customerName, "level": "vip", "company": "绿谷农场", "phones": []string{caller}})
		digits, err := sipcall.ParseDigits("w1500,"+string(trace.SampleCode)+"#,w1500,0", 250*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		s, err = sipcall.Dial(ctx, sipcall.Options{Target: stack.SIPAddr(), DID: did, From: caller,
			MaxDuration: 5 * time.Minute, Digits: digits, RecordPath: filepath.Join(art, "caller-heard.wav")})
		if err != nil {
			t.Fatalf("the caller's call to %s: %v", did, err)
		}
		top.Cleanup(func() { // before the agents log out
			s.Hangup()
			<-s.Done()
		})
		started, err := stack.Events().WaitStarted(ctx, caller)
		if err != nil {
			t.Fatalf("the call never started: %v\n%s", err, stack.LogTail(40))
		}
		callID = started.CallID
		var pop cti.ScreenPop
		waitEvent(t, ctx, "desk.screen_pop", ofCall(callID), &pop)
		if pop.Agent != browserAgent || pop.Queue != queueID || pop.IVR["trace_code"] != string(trace.SampleCode) {
			t.Errorf("screen pop event %+v", pop)
		}
		var shown struct{ Caller, Name, Level, Trace, Pop, State string }
		b.must(t, "pop", "screen-pop", map[string]string{"caller": caller, "name": customerName, "level": customerLevel,
			"trace": traceResult}, 45*time.Second, &shown)
		t.Logf("the screen pop shows caller %s, customer %s (%s), lookup result %q", shown.Caller, shown.Name, shown.Level, shown.Trace)
		if !strings.Contains(shown.Pop, string(trace.SampleCode)) {
			t.Errorf("the screen pop lacks the trace code %s:\n%s", trace.SampleCode, shown.Pop)
		}
	}) {
		t.FailNow()
	}

	// 4. The agent answers in the page; audio both ways.
	if !t.Run("4_answer_audio_both_ways", func(t *testing.T) {
		b.must(t, "ringing", "softphone-ringing", map[string]string{"caller": caller}, 45*time.Second, nil)
		var ans struct {
			Rate   int    `json:"rate"`
			Ctx    string `json:"ctx"`
			Paused bool   `json:"paused"`
		}
		b.must(t, "answer", "answered-f2", map[string]string{"key": "F2"}, 30*time.Second, &ans)
		answered := time.Now()
		waitEvent(t, ctx, "queue.connected", ofCall(callID), nil)
		if st := agentState(t, browserAgent); st != acd.OnCall {
			t.Errorf("the ACD has agent %s %s after the answer, want on_call", browserAgent, st)
		}
		t.Logf("the page's recorder: audio context %s at %d Hz, <audio> paused %v", ans.Ctx, ans.Rate, ans.Paused)
		go func() { _ = s.Say(ctx, audio.Tone(callerHz, 4*time.Minute, -10, audio.Rate)) }()

		// The caller hears the browser's microphone.
		at, first := waitTone(t, ctx, s, browserHz, 15*time.Second, fmt.Sprintf("the browser's %v Hz tone", browserHz))
		t.Logf("the caller hears the browser's tone at most %s after the page showed the call answered: %v", at.Sub(answered).Round(time.Millisecond), first)
		window := heard(t, ctx, s, at, at.Add(3*time.Second))
		writeWAV(t, art, "caller-hears-browser.wav", window)
		mb, mc := audio.ToneIn(window, browserHz), audio.ToneIn(window, callerHz)
		t.Logf("the caller hears (3 s): browser %v; own %v", mb, mc)
		if !present(mb) {
			t.Errorf("the caller does not hear the browser's tone: %v", mb)
		}
		if !absent(mc) {
			t.Errorf("the caller hears its own tone (an echo, or the check proves nothing): %v", mc)
		}

		// The browser hears the caller.
		got, how := b.record(t, "browser-hears-caller", 3*time.Second)
		writeWAV(t, art, "browser-hears-caller.wav", got)
		rc, rb := audio.ToneIn(got, callerHz), audio.ToneIn(got, browserHz)
		t.Logf("the browser hears (%s, %s): caller %v; own %v", got.Duration().Round(time.Millisecond), how, rc, rb)
		if got.Duration() < 2*time.Second {
			t.Errorf("the page recorded %s of the remote stream in 3 s (%s)", got.Duration(), how)
		}
		if !present(rc) {
			t.Errorf("the browser does not hear the caller's tone: %v (%s)", rc, how)
		}
		if !absent(rb) {
			t.Errorf("the browser hears its own tone: %v", rb)
		}
	}) {
		t.FailNow()
	}

	// 5. Hold, resume, a consultation with a colleague and a transfer to
	// them, from the page's buttons. Agent 1002, on a SIP phone, logs in
	// (available) once 1001 has the call.
	phone := startPhone(t, ctx)
	mustAPI(t, http.MethodPost, "/api/v1/agents/"+phoneAgent+"/login", nil)
	t.Cleanup(func() { logoutEventually(t, phoneAgent) })
	t.Run("5_hold_resume_transfer", func(t *testing.T) {
		held := t.Run("hold", func(t *testing.T) {
			var r callCommand
			b.must(t, "hold", "hold", nil, 30*time.Second, &r)
			r.check(t, "hold")
			from := time.Now().Add(time.Second)
			window := heard(t, ctx, s, from, from.Add(3*time.Second))
			writeWAV(t, art, "caller-hears-on-hold.wav", window)
			m := audio.ToneIn(window, browserHz)
			level := audio.DBFS(window.Samples)
			t.Logf("on hold the caller hears %.1f dBFS; browser tone %v", level, m)
			if !absent(m) {
				t.Errorf("on hold the caller still hears the agent's browser: %v", m)
			}
			if level < -50 {
				t.Errorf("on hold the caller hears silence (%.1f dBFS), want music on hold", level)
			}
		})
		t.Run("resume", func(t *testing.T) {
			if !held {
				t.Fatal("not tried: hold failed")
			}
			var r callCommand
			b.must(t, "resume", "resume", nil, 30*time.Second, &r)
			r.check(t, "resume")
			at, _ := waitTone(t, ctx, s, browserHz, 10*time.Second, "the browser's tone after resume")
			window := heard(t, ctx, s, at, at.Add(2*time.Second))
			writeWAV(t, art, "caller-hears-resumed.wav", window)
			m := audio.ToneIn(window, browserHz)
			t.Logf("resumed, the caller hears the browser again: %v", m)
			if !present(m) {
				t.Errorf("after resume the caller does not hear the browser: %v", m)
			}
		})
		t.Run("consult_and_back", func(t *testing.T) {
			var r struct {
				callCommand
				Party string `json:"party"`
			}
			b.must(t, "consult", "consult-1002", map[string]string{"kind": "agent", "to": phoneAgent}, 40*time.Second, &r)
			r.check(t, "consult agent "+phoneAgent)
			c, err := phone.WaitCall(ctx)
			if err != nil {
				t.Fatalf("agent %s's phone never rang for the consultation: %v", phoneAgent, err)
			}
			t.Logf("the page shows %q", r.Party)
			from := time.Now().Add(500 * time.Millisecond)
			window := heard(t, ctx, s, from, from.Add(2*time.Second))
			writeWAV(t, art, "caller-hears-during-consultation.wav", window)
			if mb, mp := audio.ToneIn(window, browserHz), audio.ToneIn(window, phoneHz); !absent(mb) || !absent(mp) {
				t.Errorf("during the consultation the caller hears the browser %v or agent %s %v; want hold music", mb, phoneAgent, mp)
			}
			var back callCommand
			b.must(t, "backToCaller", "back-to-caller", nil, 30*time.Second, &back)
			back.check(t, "back to the caller")
			if _, err := c.Wait(ctx); err != nil {
				t.Errorf("the consultation leg: %v", err)
			}
			at, _ := waitTone(t, ctx, s, browserHz, 10*time.Second, "the browser's tone back from the consultation")
			if m := audio.ToneIn(heard(t, ctx, s, at, at.Add(1500*time.Millisecond)), browserHz); !present(m) {
				t.Errorf("back from the consultation the caller does not hear the browser: %v", m)
			}
			// The colleague talked: wrap-up, then free for the transfer below.
			if err := harness.Eventually(ctx, 20*time.Second, func() error {
				var st struct {
					State string `json:"state"`
				}
				if err := json.Unmarshal(mustAPI(t, http.MethodGet, "/api/v1/agents/"+phoneAgent+"/state", nil), &st); err != nil {
					return err
				}
				if st.State != "available" {
					return fmt.Errorf("agent %s is %s", phoneAgent, st.State)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("transfer", func(t *testing.T) {
			var r callCommand
			b.must(t, "transfer", "transfer-to-1002", map[string]string{"kind": "agent", "to": phoneAgent}, 30*time.Second, &r)
			r.check(t, "transfer to agent "+phoneAgent)
			c, err := phone.WaitCall(ctx)
			if err != nil {
				t.Fatalf("agent %s's phone never rang: %v", phoneAgent, err)
			}
			if err := c.WaitAnswered(ctx); err != nil {
				t.Fatalf("agent %s's phone: %v", phoneAgent, err)
			}
			transferred = true
			at, _ := waitTone(t, ctx, s, phoneHz, 15*time.Second, fmt.Sprintf("agent %s's %v Hz tone", phoneAgent, phoneHz))
			window := heard(t, ctx, s, at, at.Add(2*time.Second))
			writeWAV(t, art, "caller-hears-1002.wav", window)
			mp, mb := audio.ToneIn(window, phoneHz), audio.ToneIn(window, browserHz)
			t.Logf("transferred, the caller hears agent %s: %v; the browser: %v", phoneAgent, mp, mb)
			if !present(mp) || !absent(mb) {
				t.Errorf("after the transfer the caller hears agent %s %v and the browser %v", phoneAgent, mp, mb)
			}
			var form struct{ Form, State string }
			b.must(t, "wrapupForm", "wrapup-after-transfer", nil, 30*time.Second, &form)
		})
	})

	// 6. Hang-up and wrap-up, stored with the call's record.
	t.Run("6_hangup_and_wrapup", func(t *testing.T) {
		disposition, label := "trace_answered", "追溯查询已答复"
		if transferred {
			disposition, label = "transferred", "已转接"
			s.Hangup() // the caller leaves agent 1002
		} else {
			var h struct{ Form, Phone string }
			b.must(t, "hangup", "hangup-f4", nil, 30*time.Second, &h)
			if !strings.Contains(h.Form, caller) {
				t.Errorf("the wrap-up form does not name the caller %s:\n%s", caller, h.Form)
			}
		}
		res, err := s.Wait()
		if err != nil {
			t.Fatalf("the caller's call: %v", err)
		}
		if !transferred && res.HungUpBy != sipcall.HungUpByRemote {
			t.Errorf("the caller's call ended hung up by %q, want the agent's side", res.HungUpBy)
		}
		b.must(t, "wrapup", "wrapup-saved", map[string]string{"disposition": disposition, "notes": wrapupNotes, "label": label}, 30*time.Second, nil)

		var w struct {
			Agent, Disposition, Notes, Caller, DID, Outcome string
			Ended                                           bool
		}
		// The call record is closed once ccd has seen the caller's hang-up.
		err = harness.Eventually(ctx, 15*time.Second, func() error {
			err := stack.DB.QueryRow(ctx, `SELECT w.agent_id, w.disposition, w.notes, cr.caller_number, cr.did, cr.outcome, cr.ended_at IS NOT NULL
				FROM wrapups w JOIN call_records cr ON cr.call_id = w.call_id WHERE w.call_id = $1::uuid`, callID).
				Scan(&w.Agent, &w.Disposition, &w.Notes, &w.Caller, &w.DID, &w.Outcome, &w.Ended)
			if err == nil && !w.Ended {
				err = fmt.Errorf("the call record is still open (outcome %s)", w.Outcome)
			}
			return err
		})
		if err != nil {
			t.Fatalf("the wrap-up of call %s with its call record: %v", callID, err)
		}
		t.Logf("stored: wrap-up by %s, %s, %q; call record from %s to %s, outcome %s", w.Agent, w.Disposition, w.Notes, w.Caller, w.DID, w.Outcome)
		if w.Agent != browserAgent || w.Disposition != disposition || w.Notes != wrapupNotes || w.Caller != caller || w.DID != did {
			t.Errorf("stored wrap-up %+v, want agent %s, %s, the notes typed, caller %s to %s", w, browserAgent, disposition, caller, did)
		}
		var list struct {
			Calls []struct {
				Call        string `json:"call_id"`
				Disposition string `json:"disposition"`
				Notes       string `json:"notes"`
			} `json:"calls"`
		}
		if err := json.Unmarshal(mustAPI(t, http.MethodGet, "/api/v1/agents/"+browserAgent+"/calls", nil), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Calls) == 0 || list.Calls[0].Call != callID || list.Calls[0].Disposition != disposition {
			t.Errorf("agent %s's history %+v, want call %s first with %s", browserAgent, list.Calls, callID, disposition)
		}
	})
}

// callCommand is the answer to a call-control button: the POST's status and
// body, and the notice the page showed.
type callCommand struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Toast  string `json:"toast"`
}

func (r callCommand) check(t *testing.T, what string) {
	t.Helper()
	switch {
	case r.Status == http.StatusServiceUnavailable:
		t.Fatalf("%s: the server answered 503 (not available yet): %s; the page showed %q", what, r.Body, r.Toast)
	case r.Status > 299:
		t.Fatalf("%s: HTTP %d %s; the page showed %q", what, r.Status, r.Body, r.Toast)
	}
	t.Logf("%s: HTTP %d; the page showed %q", what, r.Status, r.Toast)
}

// setup configures the queue, the agents, the desk user, the trace catalog
// and the flow, and returns the trace record the caller keys.
func setup(t *testing.T, ctx context.Context) trace.Record {
	t.Helper()
	mustAPI(t, http.MethodPut, "/api/v1/queues/"+queueID, acd.QueueConfig{ID: queueID, Name: "Trace enquiries",
		Strategy: acd.LongestIdle, OfferTimeout: 40, RetryDelay: 2, WrapUp: 10, MaxMisses: 0})
	mustAPI(t, http.MethodPut, "/api/v1/agents/"+browserAgent, acd.AgentConfig{ID: browserAgent, Name: "李娜", Team: "deske2e",
		// The agent's configured device is their desk phone (not registered
		// here): while the page's softphone is registered, calls ring it.
		Device: "PJSIP/" + browserAgent, Skills: map[acd.Skill]int{"trace": 4}})
	mustAPI(t, http.MethodPut, "/api/v1/agents/"+phoneAgent, acd.AgentConfig{ID: phoneAgent, Name: "张敏", Team: "deske2e",
		Device: "PJSIP/" + phoneAgent, Skills: map[acd.Skill]int{"trace": 2}})
	mustAPI(t, http.MethodPut, "/api/v1/users/"+deskUser, map[string]any{"username": deskUser, "display_name": "李娜",
		"role": "agent", "agent_id": browserAgent, "password": deskPassword})
	rec := trace.Sample()
	if err := trace.NewPGCatalog(stack.DB).Upsert(ctx, rec); err != nil {
		t.Fatalf("load the trace catalog: %v", err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "desk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.PublishFlow(ctx, "deske2e", src, did); err != nil {
		t.Fatalf("publish the flow on %s: %v", did, err)
	}
	return rec
}

// startPhone registers agent 1002's phone (answers after 300 ms, sends its
// tone) and closes it when the test ends.
func startPhone(t *testing.T, ctx context.Context) *sipagent.Agent {
	t.Helper()
	a, err := sipagent.Start(ctx, sipagent.Options{Registrar: stack.SIPAddr(), User: phoneAgent,
		Password: stack.Asterisk.AgentPasswords[phoneAgent], Behaviour: sipagent.Behaviour{AnswerAfter: 300 * time.Millisecond},
		Play: audio.Tone(phoneHz, time.Second, -10, audio.Rate)})
	if err != nil {
		t.Fatalf("agent %s's phone: %v", phoneAgent, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("close agent %s's phone: %v", phoneAgent, err)
		}
	})
	return a
}

// contact is the contact URI registered for endpoint's AOR ("" when none).
func contact(t *testing.T, ctx context.Context, endpoint string) string {
	t.Helper()
	out, err := stack.Asterisk.CLI(ctx, "pjsip show aor "+endpoint)
	if err != nil {
		t.Fatalf("pjsip show aor %s: %v", endpoint, err)
	}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "contact" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func writeWAV(t *testing.T, dir, name string, p audio.PCM) {
	t.Helper()
	if err := audio.WriteWAVFile(filepath.Join(dir, name), p); err != nil {
		t.Error(err)
	}
}
