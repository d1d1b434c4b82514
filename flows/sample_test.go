package flows_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/sim"
)

var traceVars = []string{
	"trace.product", "trace.batch", "trace.origin", "trace.processor", "trace.inspection",
	"trace.market", "trace.retailer", "trace.code_spoken", "trace.produced_on",
}

func TestSampleHotlineValidates(t *testing.T) {
	doc, err := flows.Check(flows.SampleHotline(), flows.ValidateOptions{Name: "hotline", TraceVars: traceVars})
	if err != nil {
		t.Fatal(err)
	}
	out, err := flows.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := flows.Check(out, flows.ValidateOptions{Name: "hotline", TraceVars: traceVars})
	if err != nil {
		t.Fatalf("canonical form: %v\n%s", err, out)
	}
	if out2, _ := flows.Marshal(again); !bytes.Equal(out, out2) {
		t.Error("canonical form changed on a second round")
	}
	for _, v := range traceVars {
		for _, lang := range doc.Languages {
			if !strings.Contains(doc.Nodes["readout"].Prompt.Text[lang], "${"+v+"}") {
				t.Errorf("read-out in %s lacks ${%s}", lang, v)
			}
		}
	}
}

// fakeTrace knows one code, has no record of another and fails on a third.
type fakeTrace struct{}

func (fakeTrace) LookupVars(_ context.Context, code, lang string) (map[string]string, error) {
	switch code {
	case "6901234567892":
		return map[string]string{
			"trace.product": "pork loin", "trace.batch": "B20260301", "trace.origin": "Green Valley farm",
			"trace.processor": "City slaughterhouse", "trace.inspection": "passed", "trace.market": "North wholesale market",
			"trace.retailer": "Corner store", "trace.code_spoken": "6 9 0 1", "trace.produced_on": "1 March 2026",
		}, nil
	case "11111111":
		return nil, fmt.Errorf("code %s: %w", code, ivr.ErrTraceNotFound)
	default:
		return nil, fmt.Errorf("catalog down: %w", ivr.ErrTraceUnavailable)
	}
}

func TestSampleHotlineCalls(t *testing.T) {
	doc, err := flows.Parse(flows.SampleHotline())
	if err != nil {
		t.Fatal(err)
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	open := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai) // a Monday
	tests := []struct {
		name    string
		at      time.Time
		inputs  string
		want    []string // in order
		outcome ivr.Outcome
	}{
		{"trace code in English", open, "2,1,6901234567892#,9,0", []string{
			`say "您好，欢迎致电食品安全追溯服务热线。"`, // in the default language until the caller chooses
			"set language = \"en\"",
			"Please enter the trace code",
			"Product: pork loin. Batch: B20260301.", "Origin: Green Valley farm", "Retailer: Corner store.",
			"To check another code press 1",
			"key 9 -> main",
			"key 0 -> hours",
			"open Mon 10:00",
			"queue trace (priority 0): an agent answers",
		}, ivr.OutcomeAgent},
		{"trace code in Chinese, then goodbye", open, "1,1,6901234567892#,5", []string{
			"产品：pork loin", "retries exhausted -> goodbye", "感谢您的来电，再见。",
		}, ivr.OutcomeCompleted},
		{"no record, then a code that is found", open, "2,1,11111111#,6901234567892#,1,,", []string{
			"not found -> not_found", "Sorry, there is no record for this code.",
			"Please enter the trace code", "found -> readout", "key 1 -> code",
		}, ivr.OutcomeCompleted},
		{"service unavailable", open, "2,1,22222222#", []string{
			"lookup failed", "the traceability service is unavailable, please try later", "Goodbye.",
		}, ivr.OutcomeCompleted},
		{"complaint", open, "2,2", []string{"describe your complaint", "record message (max 3m0s", "We have your message"}, ivr.OutcomeCompleted},
		{"agent after hours", time.Date(2026, 3, 2, 21, 0, 0, 0, shanghai), "1,0", []string{
			"key 0 -> hours", "closed Mon 21:00", "服务时间是每天上午八点至晚上八点", "请在提示音后留言", "record message", "您的留言已收到",
		}, ivr.OutcomeCompleted},
		{"self-service after hours", time.Date(2026, 3, 2, 23, 0, 0, 0, shanghai), "2,1,6901234567892#,5", []string{
			"Product: pork loin",
		}, ivr.OutcomeCompleted},
		{"agent on a holiday", time.Date(2026, 2, 17, 10, 0, 0, 0, shanghai), "1,0", []string{"holiday 2026-02-17", "record message"}, ivr.OutcomeCompleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inputs, err := sim.ParseInputs(tt.inputs)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := sim.Run(context.Background(), doc, sim.Options{
				Inputs: inputs, Caller: "13800138000", DID: "4006001000", Now: tt.at,
				Deps: ivr.Deps{Trace: fakeTrace{}},
			}, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			transcript := out.String()
			rest := transcript
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("transcript lacks %q (in order):\n%s", w, transcript)
				}
				rest = rest[i+len(w):]
			}
			if res.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s\n%s", res.Outcome, tt.outcome, transcript)
			}
		})
	}
}

func TestSampleAgentLineValidates(t *testing.T) {
	if _, err := flows.Check(flows.SampleAgentLine(), flows.ValidateOptions{Name: "agents"}); err != nil {
		t.Fatal(err)
	}
}
