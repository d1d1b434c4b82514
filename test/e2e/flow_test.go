package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/tts"
	"github.com/ccd-platform/ccd/test/harness"
	"github.com/ccd-platform/ccd/trace"
)

// api sends an admin API request and decodes the JSON answer.
func api(t *testing.T, method, path string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+stack.CCD().HTTPAddr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+harness.APIToken)
	req.Header.Set("X-Author", "e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

// publish stores src as a new version of name, publishes it and binds did to it.
func publish(t *testing.T, name string, src []byte, did string) int {
	t.Helper()
	var v struct {
		Version  int              `json:"version"`
		Error    string           `json:"error"`
		Problems []map[string]any `json:"problems"`
	}
	if code := api(t, http.MethodPost, "/api/v1/flows/"+name+"/drafts", src, &v); code != http.StatusCreated {
		t.Fatalf("draft %s: %d %s %v", name, code, v.Error, v.Problems)
	}
	if code := api(t, http.MethodPost, fmt.Sprintf("/api/v1/flows/%s/versions/%d/publish", name, v.Version), nil, nil); code != http.StatusOK {
		t.Fatalf("publish %s v%d: %d", name, v.Version, code)
	}
	if did != "" {
		body, _ := json.Marshal(map[string]string{"flow": name})
		if code := api(t, http.MethodPut, "/api/v1/bindings/"+did, body, nil); code != http.StatusOK {
			t.Fatalf("bind %s: %d", did, code)
		}
	}
	return v.Version
}

var traceSetup sync.Once

// traceFlow publishes the trace test flow on its own DID and loads the catalog.
func traceFlow(t *testing.T) string {
	t.Helper()
	const did = "4006002000"
	traceSetup.Do(func() {
		ctx := ctxFor(t, 60*time.Second)
		recs := trace.Generate(50, 7) // holds the sample code too
		if err := trace.NewPGCatalog(stack.DB).Upsert(ctx, recs...); err != nil {
			t.Fatalf("load the trace catalog: %v", err)
		}
		src, err := os.ReadFile("testdata/trace.yaml")
		if err != nil {
			t.Fatal(err)
		}
		publish(t, "e2e-trace", src, did)
	})
	return did
}

var (
	espeakOnce sync.Once
	espeak     *tts.Espeak
)

// spoken renders text as the platform does (same engine and voice), for
// comparison with what a caller heard.
func spoken(t *testing.T, lang, text string) audio.PCM {
	t.Helper()
	espeakOnce.Do(func() {
		var err error
		espeak, err = tts.NewEspeak(context.Background())
		if err != nil {
			t.Fatalf("espeak-ng: %v", err)
		}
	})
	p, err := espeak.Render(context.Background(), tts.Voice{Lang: lang}, text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// heardSaid checks that the caller heard text spoken in lang.
func heardSaid(t *testing.T, heard audio.PCM, lang, text string) float64 {
	t.Helper()
	ref := spoken(t, lang, text)
	m, err := audio.CrossCorrelate(heard, ref, ref.Duration()*8/10)
	if err != nil {
		t.Fatalf("correlate %q: %v", text, err)
	}
	return m.Score
}

func inputsOf(t *testing.T, callID string) []string {
	t.Helper()
	var got []string
	for _, e := range stack.Events().All() {
		var d cti.CallDigits
		if e.Type == "call.digits" && e.Decode(&d) == nil && d.CallID == callID {
			got = append(got, d.Digits)
		}
	}
	return got
}

func TestTraceCodeAnswerSpoken(t *testing.T) {
	did := traceFlow(t)
	rec := trace.Sample()
	for _, tc := range []struct {
		lang, key, readout, other string
	}{
		{"en", "2", "Product: %s. Origin: %s.", "zh"},
		{"zh", "1", "产品：%s，产地：%s。", "en"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			ctx := ctxFor(t, 90*time.Second)
			caller := callerNumber()
			res, err := sipcall.Call(ctx, sipcall.Options{
				Target: stack.SIPAddr(), DID: did, From: caller,
				Digits:      digits(t, "w500,"+tc.key+",w300,6,9,0,1,2,3,4,5,6,7,8,9,2,#"),
				MaxDuration: 60 * time.Second,
			})
			if err != nil || !res.Answered {
				t.Fatalf("call: %v %+v", err, res)
			}
			started, ended, cdrRec := waitEnded(t, ctx, caller)
			if ended.Outcome != "completed" || cdrRec.Flow != "e2e-trace" || cdrRec.FlowVersion == nil {
				t.Errorf("ended %+v record flow %q v%v", ended, cdrRec.Flow, cdrRec.FlowVersion)
			}
			if got := strings.Join(inputsOf(t, started.CallID), ","); got != tc.key+","+string(trace.SampleCode) {
				t.Errorf("inputs %q", got)
			}
			vars := trace.Vars(&rec, tc.lang, time.Now())
			text := fmt.Sprintf(tc.readout, vars["trace.product"], vars["trace.origin"])
			score := heardSaid(t, res.Heard, tc.lang, text)
			if score < 0.7 {
				t.Errorf("the read-out %q was not heard: correlation %.2f", text, score)
			}
			// The same facts in the other language were not what was said.
			otherVars := trace.Vars(&rec, tc.other, time.Now())
			otherFmt := map[string]string{"en": "Product: %s. Origin: %s.", "zh": "产品：%s，产地：%s。"}[tc.other]
			if other := heardSaid(t, res.Heard, tc.other, fmt.Sprintf(otherFmt, otherVars["trace.product"], otherVars["trace.origin"])); other > score-0.2 {
				t.Errorf("read-out in %s matches as well as in %s (%.2f vs %.2f)", tc.other, tc.lang, other, score)
			}
			t.Logf("%s read-out heard: correlation %.2f (%s of audio)", tc.lang, score, res.Heard.Duration())
		})
	}
}

func TestWrongCheckDigitRetriesThenFallback(t *testing.T) {
	did := traceFlow(t)
	ctx := ctxFor(t, 90*time.Second)
	caller := callerNumber()
	bad := string(trace.SampleCode)[:12] + "0" // wrong check digit
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: caller,
		Digits:      digits(t, "w500,2,w300,"+spell(bad)+"#,w6000,"+spell(bad)+"#"),
		MaxDuration: 60 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	started, ended, _ := waitEnded(t, ctx, caller)
	if got := strings.Join(inputsOf(t, started.CallID), ","); got != "2,"+bad+","+bad {
		t.Errorf("inputs %q, want the language and two attempts", got)
	}
	if ended.Outcome != "completed" {
		t.Errorf("outcome %s", ended.Outcome)
	}
	if s := heardSaid(t, res.Heard, "en", "The code you entered is not valid, please enter it again."); s < 0.7 {
		t.Errorf("invalid-code prompt not heard (%.2f)", s)
	}
	if s := heardSaid(t, res.Heard, "en", "Too many attempts. Please call again later."); s < 0.7 {
		t.Errorf("fallback not heard (%.2f)", s)
	}
}

func spell(code string) string { return strings.Join(strings.Split(code, ""), ",") }

func TestUnknownCodeNotFound(t *testing.T) {
	did := traceFlow(t)
	ctx := ctxFor(t, 90*time.Second)
	caller := callerNumber()
	unknown := string(trace.Complete("690999999999"))
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: caller,
		Digits:      digits(t, "w500,2,w300,"+spell(unknown)+",#"),
		MaxDuration: 60 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	waitEnded(t, ctx, caller)
	if s := heardSaid(t, res.Heard, "en", "Sorry, there is no record for this code."); s < 0.7 {
		t.Errorf("not-found answer not heard (%.2f)", s)
	}
}

func TestNoInputTimeoutHandling(t *testing.T) {
	did := traceFlow(t)
	ctx := ctxFor(t, 90*time.Second)
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: caller, Digits: digits(t, "w500,2"), MaxDuration: 60 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	_, ended, rec := waitEnded(t, ctx, caller)
	// Two attempts time out, then the fallback plays and the call ends.
	if ended.Outcome != "completed" || rec.Digits != "2" || res.HungUpBy != sipcall.HungUpByRemote {
		t.Errorf("ended %+v digits %q hung up by %s", ended, rec.Digits, res.HungUpBy)
	}
	if s := heardSaid(t, res.Heard, "en", "Too many attempts. Please call again later."); s < 0.7 {
		t.Errorf("fallback after time-outs not heard (%.2f)", s)
	}
}

// nightFlow is a flow whose opening hours never include now.
func nightFlow(now time.Time) []byte {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	other := strings.ToLower(now.In(loc).Add(48 * time.Hour).Format("Mon"))[:3]
	src, _ := os.ReadFile("testdata/night.yaml")
	return bytes.Replace(src, []byte("days: [mon]"), []byte("days: ["+other+"]"), 1)
}

func TestNightServiceLeavesAMessage(t *testing.T) {
	ctx := ctxFor(t, 90*time.Second)
	const did = "4006003000"
	publish(t, "e2e-night", nightFlow(time.Now()), did)
	caller := callerNumber()
	// The caller speaks after the prompt and the beep, then presses #.
	said := spoken(t, "en", "My name is Li Wei, please call me back on one three eight zero zero one three eight zero zero zero.")
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: caller, MaxDuration: 60 * time.Second,
		Say:    []sipcall.Utterance{{After: 5 * time.Second, Audio: said}},
		Digits: digits(t, fmt.Sprintf("w%dms,#", (5*time.Second+said.Duration()+time.Second).Milliseconds())), // # ends the message
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	if s := heardSaid(t, res.Heard, "en", "Our office is closed. Please leave a message after the tone."); s < 0.7 {
		t.Errorf("night service not heard (%.2f)", s)
	}
	waitEnded(t, ctx, caller)
	var list struct {
		Messages []struct {
			ID         string    `json:"id"`
			Caller     string    `json:"caller"`
			DurationMS int64     `json:"duration_ms"`
			RecordedAt time.Time `json:"recorded_at"`
			SHA256     string    `json:"sha256"`
			Flow       string    `json:"flow"`
		} `json:"messages"`
	}
	if code := api(t, http.MethodGet, "/api/v1/messages?caller="+caller, nil, &list); code != http.StatusOK || len(list.Messages) != 1 {
		t.Fatalf("messages of %s: %d %+v", caller, code, list)
	}
	m := list.Messages[0]
	if m.Flow != "e2e-night" || m.DurationMS < said.Duration().Milliseconds()*8/10 || time.Since(m.RecordedAt) > time.Minute || len(m.SHA256) != 64 {
		t.Errorf("message %+v", m)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+stack.CCD().HTTPAddr()+"/api/v1/messages/"+m.ID+"/audio", nil)
	req.Header.Set("Authorization", "Bearer "+harness.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wav, err := audio.ReadWAV(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("audio: %d %v", resp.StatusCode, err)
	}
	// The message holds what the caller said.
	if match, err := audio.CrossCorrelate(wav, said, said.Duration()*8/10); err != nil || match.Score < 0.7 {
		t.Errorf("the recorded message is not what the caller said: %+v %v (audio %s)", match, err, wav.Duration())
	}
	t.Logf("message %s: %d ms, audio %s", m.ID, m.DurationMS, wav.Duration())
}

func TestPublishDuringCallPinsVersion(t *testing.T) {
	ctx := ctxFor(t, 90*time.Second)
	const did = "4006004000"
	src := func(word string) []byte {
		return []byte(fmt.Sprintf(`name: e2e-pin
languages: [en]
default_language: en
start: hello
nodes:
  hello:
    type: play
    prompt: {text: {en: "This is version %s of the flow."}}
    next: wait
  wait:
    type: collect
    prompt: {text: {en: "Press a key."}}
    var: x
    min: 1
    max: 4
    terminator: "#"
    validator: digits
    first_timeout: 4s
    retries: 1
    next: bye
    fail_next: bye
  bye:
    type: hangup
    prompt: {text: {en: "Goodbye from version %s."}}
`, word, word))
	}
	v1 := publish(t, "e2e-pin", src("one"), did)
	first := callerNumber()
	inCall, err := sipcall.Dial(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: first,
		Digits: digits(t, "w3000,1,#"), MaxDuration: 40 * time.Second,
	})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if _, err := stack.Events().WaitStarted(ctx, first); err != nil {
		t.Fatal(err)
	}
	v2 := publish(t, "e2e-pin", src("two"), "")
	second := callerNumber()
	res2, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: second, Digits: digits(t, "w2500,2,#"), MaxDuration: 40 * time.Second,
	})
	if err != nil || !res2.Answered {
		t.Fatalf("second call: %v %+v", err, res2)
	}
	res1, err := inCall.Wait()
	if err != nil {
		t.Fatal(err)
	}
	_, _, rec1 := waitEnded(t, ctx, first)
	_, _, rec2 := waitEnded(t, ctx, second)
	if rec1.FlowVersion == nil || *rec1.FlowVersion != v1 || rec2.FlowVersion == nil || *rec2.FlowVersion != v2 {
		t.Fatalf("versions: first call %v (want %d), second %v (want %d)", rec1.FlowVersion, v1, rec2.FlowVersion, v2)
	}
	if s := heardSaid(t, res1.Heard, "en", "Goodbye from version one."); s < 0.7 {
		t.Errorf("first call did not finish on version one (%.2f)", s)
	}
	if s := heardSaid(t, res2.Heard, "en", "This is version two of the flow."); s < 0.7 {
		t.Errorf("second call did not run version two (%.2f)", s)
	}
}

func TestMalformedFlowRejectedWithPaths(t *testing.T) {
	bad := []byte(`name: e2e-bad
languages: [zh, en]
default_language: zh
start: main
nodes:
  main:
    type: menu
    prompt: {text: {zh: 请选择}}
    options: {"1": nowhere}
  orphan:
    type: hangup
`)
	var out struct {
		Error    string `json:"error"`
		Problems []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"problems"`
	}
	if code := api(t, http.MethodPost, "/api/v1/flows/e2e-bad/drafts", bad, &out); code != http.StatusUnprocessableEntity {
		t.Fatalf("malformed flow: status %d %+v", code, out)
	}
	all := ""
	for _, p := range out.Problems {
		all += p.Path + ": " + p.Message + "\n"
	}
	for _, want := range []string{"nodes.main.prompt.text", "nodes.main.options.1", "nodes.orphan"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %s:\n%s", want, all)
		}
	}
	// Unknown fields are reported by the parser, with their line.
	typo := []byte("name: e2e-bad\nlanguages: [en]\ndefault_language: en\nstart: a\nnodes:\n  a:\n    type: hangup\n    colour: blue\n")
	if code := api(t, http.MethodPost, "/api/v1/flows/e2e-bad/drafts", typo, &out); code != http.StatusUnprocessableEntity ||
		len(out.Problems) == 0 || !strings.Contains(out.Problems[0].Path, "nodes.a.colour") {
		t.Errorf("unknown field: %d %+v", code, out)
	}
	if code := api(t, http.MethodGet, "/api/v1/flows/e2e-bad", nil, nil); code != http.StatusNotFound {
		var versions map[string]any
		api(t, http.MethodGet, "/api/v1/flows/e2e-bad", nil, &versions)
		if vs, _ := versions["versions"].([]any); len(vs) > 0 {
			t.Errorf("a malformed flow was stored: %v", versions)
		}
	}
}

func TestSimulatorUsesTheSameEngine(t *testing.T) {
	traceFlow(t)
	var sim struct {
		Transcript string `json:"transcript"`
		Outcome    string `json:"outcome"`
		Inputs     string `json:"inputs"`
	}
	body, _ := json.Marshal(map[string]any{"digits": "2," + string(trace.SampleCode) + "#", "caller": "13800138000"})
	if code := api(t, http.MethodPost, "/api/v1/flows/e2e-trace/simulate", body, &sim); code != http.StatusOK {
		t.Fatalf("simulate: %d %+v", code, sim)
	}
	rec := trace.Sample()
	if !strings.Contains(sim.Transcript, "Product: "+rec.Product.EN) || sim.Outcome != string(ivr.OutcomeCompleted) {
		t.Errorf("transcript:\n%s", sim.Transcript)
	}
}

// An external traceability platform that does not answer: the caller hears
// "unavailable, please try later", not silence.
func TestTracePlatformDownSpokenUnavailable(t *testing.T) {
	did := traceFlow(t)
	ctx := ctxFor(t, 120*time.Second)
	saved := stack.Config
	t.Cleanup(func() {
		stack.Config = saved
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := stack.RestartCCD(ctx); err != nil {
			t.Errorf("restart ccd: %v", err)
		}
	})
	stack.Config.Trace.Source = "http"
	stack.Config.Trace.URL = "http://127.0.0.1:9" // nothing listens there
	stack.Config.Trace.Timeout = time.Second
	if err := stack.RestartCCD(ctx); err != nil {
		t.Fatal(err)
	}
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: did, From: caller,
		Digits:      digits(t, "w500,2,w300,"+spell(string(trace.SampleCode))+",#"),
		MaxDuration: 60 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	_, ended, _ := waitEnded(t, ctx, caller)
	if ended.Outcome != "completed" {
		t.Errorf("outcome %s", ended.Outcome)
	}
	if s := heardSaid(t, res.Heard, "en", "The service is unavailable, please try later."); s < 0.7 {
		t.Errorf("unavailable answer not heard (%.2f)", s)
	}
}

// A flow's transfer node rings an agent's phone; on answer caller and agent
// talk; when the agent hangs up the call ends as transferred. An agent who
// does not take the call sends the caller down the flow's next branch.
func TestTransferToAgent(t *testing.T) {
	ctx := ctxFor(t, 120*time.Second)
	const did = "4006005000"
	src := []byte(`name: e2e-transfer
languages: [en]
default_language: en
start: hello
nodes:
  hello:
    type: play
    prompt: {text: {en: "Connecting you to an agent."}}
    next: agent
  agent:
    type: transfer
    to: PJSIP/1001
    timeout: 8s
    next: busy
  busy:
    type: hangup
    prompt: {text: {en: "Sorry, all our agents are busy."}}
`)
	publish(t, "e2e-transfer", src, did)
	agent, err := sipagent.Start(ctx, sipagent.Options{
		Registrar: stack.SIPAddr(), User: "1001", Password: stack.Asterisk.AgentPasswords["1001"],
		Behaviour: sipagent.Behaviour{AnswerAfter: 500 * time.Millisecond, HangupAfter: 5 * time.Second},
		Play:      sipagent.ToneBursts(1300),
	})
	if err != nil {
		t.Fatalf("agent phone: %v", err)
	}
	t.Cleanup(func() { _ = agent.Close(context.Background()) })

	t.Run("answered", func(t *testing.T) {
		caller := callerNumber()
		said := spoken(t, "en", "Hello, I would like to ask about a package of pork.")
		res, err := sipcall.Call(ctx, sipcall.Options{
			Target: stack.SIPAddr(), DID: did, From: caller, MaxDuration: 40 * time.Second,
			Say: []sipcall.Utterance{{After: 4 * time.Second, Audio: said}},
		})
		if err != nil || !res.Answered {
			t.Fatalf("call: %v %+v", err, res)
		}
		call, err := agent.WaitCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, ended, rec := waitEnded(t, ctx, caller)
		if ended.Outcome != "transferred" || rec.Outcome != "transferred" {
			t.Errorf("outcome %s / %s, want transferred", ended.Outcome, rec.Outcome)
		}
		if call.From() != caller {
			t.Errorf("agent saw caller %q, want %q", call.From(), caller)
		}
		// Two-way audio: the caller hears the agent's tone, the agent hears the caller.
		tone := sipagent.ToneBursts(1300)
		if m, err := audio.CrossCorrelate(res.Heard, tone, tone.Duration()*8/10); err != nil || m.Score < 0.7 {
			t.Errorf("caller did not hear the agent: %+v %v", m, err)
		}
		if m, err := audio.CrossCorrelate(call.Heard(), said, said.Duration()*8/10); err != nil || m.Score < 0.7 {
			t.Errorf("agent did not hear the caller: %+v %v", m, err)
		}
	})
	t.Run("busy", func(t *testing.T) {
		if err := agent.SetBehaviour(sipagent.Behaviour{Reject: 486}); err != nil {
			t.Fatal(err)
		}
		caller := callerNumber()
		res, err := sipcall.Call(ctx, sipcall.Options{Target: stack.SIPAddr(), DID: did, From: caller, MaxDuration: 40 * time.Second})
		if err != nil || !res.Answered {
			t.Fatalf("call: %v %+v", err, res)
		}
		_, ended, _ := waitEnded(t, ctx, caller)
		if ended.Outcome != "completed" {
			t.Errorf("outcome %s", ended.Outcome)
		}
		if s := heardSaid(t, res.Heard, "en", "Sorry, all our agents are busy."); s < 0.7 {
			t.Errorf("busy branch not heard (%.2f)", s)
		}
	})
}
