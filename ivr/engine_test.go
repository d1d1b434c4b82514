package ivr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/sim"
)

func text(zh, en string) *flows.Prompt {
	return &flows.Prompt{Text: map[string]string{"zh": zh, "en": en}}
}

func testDoc() *flows.Doc {
	return &flows.Doc{
		Name: "hotline", Languages: []string{"zh", "en"}, DefaultLanguage: "zh", Start: "hours",
		Nodes: map[string]*flows.Node{
			"hours": {Type: flows.TypeSchedule, Timezone: "Asia/Shanghai",
				Open:     []flows.OpenHours{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "08:00", To: "20:00"}},
				Holidays: []string{"2026-10-01"}, OpenNext: "lang", ClosedNext: "night"},
			"night": {Type: flows.TypeMessage, Prompt: text("夜间服务，请留言", "Night service, leave a message"), Next: "bye"},
			"lang": {Type: flows.TypeLanguage, Prompt: text("中文请按1", "For English press 2"),
				Options: map[string]string{"1": "zh", "2": "en"}, Default: "zh", Next: "main"},
			"main": {Type: flows.TypeMenu, Prompt: text("查询请按1", "For trace lookup press 1"),
				Options: map[string]string{"1": "code", "2": "complaint"}, Retries: 2,
				InvalidPrompt: text("无效", "Invalid choice"), FailNext: "bye"},
			"code": {Type: flows.TypeCollect, Prompt: text("请输入追溯码", "Enter the trace code"), Var: "code",
				Min: 8, Max: 20, Terminator: "#", Validator: "trace_code", Retries: 2,
				InvalidPrompt: text("追溯码无效", "That code is not valid"), Next: "lookup", FailNext: "bye"},
			"lookup":    {Type: flows.TypeTraceLookup, CodeVar: "code", FoundNext: "readout", NotFoundNext: "notfound", ErrorNext: "down"},
			"readout":   {Type: flows.TypePlay, Prompt: text("产品：${trace.product}", "Product: ${trace.product}"), Next: "bye"},
			"notfound":  {Type: flows.TypePlay, Prompt: text("没有记录", "No record for ${code}"), Next: "bye"},
			"down":      {Type: flows.TypePlay, Prompt: text("服务不可用", "Service unavailable, please try later"), Next: "bye"},
			"complaint": {Type: flows.TypeMessage, Prompt: text("请留言", "Please leave a message"), Next: "bye"},
			"bye":       {Type: flows.TypeHangup, Prompt: text("再见", "Goodbye")},
		},
	}
}

type catalog map[string]string

func (c catalog) LookupVars(_ context.Context, code, lang string) (map[string]string, error) {
	switch p, ok := c[code]; {
	case code == "00000002":
		return nil, fmt.Errorf("timeout: %w", ivr.ErrTraceUnavailable)
	case !ok:
		return nil, ivr.ErrTraceNotFound
	default:
		return map[string]string{"trace.product": p + "/" + lang}, nil
	}
}

type messages struct{ saved []ivr.Message }

func (m *messages) SaveMessage(_ context.Context, msg ivr.Message) error {
	m.saved = append(m.saved, msg)
	return nil
}

func validate(v, s string) error {
	if v == "trace_code" && !strings.HasSuffix(s, "2") {
		return errors.New("bad check digit")
	}
	return nil
}

func TestEngine(t *testing.T) {
	day := time.Date(2026, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		name       string
		inputs     string
		now        time.Time
		wantSay    []string // substrings of the transcript, in order
		wantOut    ivr.Outcome
		wantDigits string
		wantMsgs   int
	}{
		{name: "english trace lookup", inputs: "2,1,6901234567892#", now: day,
			wantSay: []string{"For English press 2", "Enter the trace code", "set code", "Product: pork/en", "Goodbye"}, wantOut: ivr.OutcomeCompleted, wantDigits: "2,1,6901234567892"},
		{name: "mandarin default", inputs: "1,1,6901234567892#", now: day,
			wantSay: []string{"产品：pork/zh", "再见"}, wantOut: ivr.OutcomeCompleted},
		{name: "wrong check digit then right", inputs: "2,1,6901234567891#,6901234567892#", now: day,
			wantSay: []string{"invalid: bad check digit", "That code is not valid", "Product: pork/en"}, wantOut: ivr.OutcomeCompleted},
		{name: "retries exhausted goes to fallback", inputs: "2,1,12345671#,12345671#", now: day,
			wantSay: []string{"That code is not valid", "retries exhausted -> bye", "Goodbye"}, wantOut: ivr.OutcomeCompleted},
		{name: "too short is invalid", inputs: "2,1,692#,6901234567892#", now: day,
			wantSay: []string{"That code is not valid", "Product"}, wantOut: ivr.OutcomeCompleted},
		{name: "unknown code", inputs: "2,1,12345672#", now: day,
			wantSay: []string{"not found -> notfound", "No record for 12345672"}, wantOut: ivr.OutcomeCompleted},
		{name: "service unavailable", inputs: "2,1,00000002#", now: day,
			wantSay: []string{"lookup failed", "Service unavailable"}, wantOut: ivr.OutcomeCompleted},
		{name: "invalid menu key then valid", inputs: "2,7,1,6901234567892#", now: day,
			wantSay: []string{"Invalid choice", "key 1 -> code"}, wantOut: ivr.OutcomeCompleted},
		{name: "no input anywhere", inputs: "", now: day,
			wantSay: []string{"caller keys nothing", "retries exhausted -> bye"}, wantOut: ivr.OutcomeNoInput},
		{name: "night service", inputs: "", now: day.Add(12 * time.Hour),
			wantSay: []string{"closed", "-> night", "夜间服务", "record message"}, wantOut: ivr.OutcomeCompleted, wantMsgs: 1},
		{name: "holiday", inputs: "", now: time.Date(2026, 10, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)),
			wantSay: []string{"holiday 2026-10-01", "-> night"}, wantOut: ivr.OutcomeCompleted, wantMsgs: 1},
		{name: "complaint leaves a message", inputs: "2,2", now: day,
			wantSay: []string{"Please leave a message", "record message", "set message.recording"}, wantOut: ivr.OutcomeCompleted, wantMsgs: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inputs, err := sim.ParseInputs(tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			msgs := &messages{}
			var out bytes.Buffer
			res, err := sim.Run(context.Background(), testDoc(), sim.Options{
				Inputs: inputs, Caller: "13800138000", DID: "4006001000", Now: tc.now,
				Deps: ivr.Deps{Trace: catalog{"6901234567892": "pork"}, Messages: msgs, Validate: validate},
			}, &out)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			tr := out.String()
			pos := 0
			for _, w := range tc.wantSay {
				i := strings.Index(tr[pos:], w)
				if i < 0 {
					t.Fatalf("transcript lacks %q after position %d:\n%s", w, pos, tr)
				}
				pos += i + len(w)
			}
			if res.Outcome != tc.wantOut {
				t.Errorf("outcome %s, want %s\n%s", res.Outcome, tc.wantOut, tr)
			}
			if tc.wantDigits != "" && res.Digits() != tc.wantDigits {
				t.Errorf("digits %q, want %q", res.Digits(), tc.wantDigits)
			}
			if len(msgs.saved) != tc.wantMsgs {
				t.Errorf("%d messages saved, want %d", len(msgs.saved), tc.wantMsgs)
			}
		})
	}
}

func TestLoopWithoutInputStops(t *testing.T) {
	doc := &flows.Doc{Name: "loop", Languages: []string{"en"}, DefaultLanguage: "en", Start: "a",
		Nodes: map[string]*flows.Node{
			"a": {Type: flows.TypeSet, Vars: map[string]string{"x": "1"}, Next: "b"},
			"b": {Type: flows.TypeBranch, Default: "a"},
		}}
	_, err := sim.Run(context.Background(), doc, sim.Options{}, &bytes.Buffer{})
	if !errors.Is(err, ivr.ErrTooManySteps) {
		t.Fatalf("err = %v", err)
	}
}

func TestExpand(t *testing.T) {
	got := ivr.Expand("code ${code}, ${trace.product}, ${missing}.", map[string]string{"code": "69", "trace.product": "pork"})
	if got != "code 69, pork, ." {
		t.Fatalf("got %q", got)
	}
}
