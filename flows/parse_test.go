package flows

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const minimalYAML = `
name: mini
languages: [zh, en]
default_language: zh
start: hello
prompts:
  bye:
    text: {zh: 再见, en: Goodbye}
nodes:
  hello:
    type: menu
    prompt: {text: {zh: 请按1, en: Press 1}}
    options: {"1": bye}
    timeout: 500ms
  bye: {type: hangup, prompt: bye}
`

func TestParse(t *testing.T) {
	doc, err := Parse([]byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Nodes["bye"].Prompt; got == nil || got.Ref != "bye" || got.Text != nil {
		t.Errorf("bare prompt name: got %+v, want a reference to bye", got)
	}
	if got := doc.Nodes["hello"].Timeout; time.Duration(got) != 500*time.Millisecond {
		t.Errorf("timeout = %v, want 500ms", got)
	}
	if got := doc.Nodes["hello"].Options["1"]; got != "bye" {
		t.Errorf("options.1 = %q", got)
	}
	if err := Validate(doc, ValidateOptions{}); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestParseJSON(t *testing.T) {
	src := "{\n\t\"name\": \"mini\",\n\t\"languages\": [\"en\"],\n\t\"default_language\": \"en\",\n\t\"start\": \"bye\",\n" +
		"\t\"prompts\": {\"bye\": {\"text\": {\"en\": \"Goodbye\"}}},\n" +
		"\t\"nodes\": {\"bye\": {\"type\": \"hangup\", \"prompt\": \"bye\"}, \"x\": {\"type\": \"menu\", \"timeout\": \"5s\"}}\n}"
	doc, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Nodes["bye"].Prompt.Ref != "bye" || time.Duration(doc.Nodes["x"].Timeout) != 5*time.Second {
		t.Errorf("got %+v %+v", doc.Nodes["bye"].Prompt, doc.Nodes["x"])
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each a "path: message" substring of a problem
	}{
		{"unknown field in a node", "nodes:\n  main:\n    type: menu\n    optoins: {}\n", []string{"nodes.main.optoins: unknown field"}},
		{"unknown top-level field", "nmae: x\n", []string{"nmae: unknown field"}},
		{"unknown prompt field", "prompts:\n  a: {txt: {en: hi}}\n", []string{"prompts.a.txt: unknown field"}},
		{"unknown field in a case", "nodes:\n  b:\n    cases:\n      - {var: x, equals: y, nxt: z}\n", []string{"nodes.b.cases.0.nxt: unknown field"}},
		{"all problems at once", "nmae: x\nnodes:\n  a: {tpye: play}\n", []string{"nmae: unknown field", "nodes.a.tpye: unknown field"}},
		{"bad duration", "nodes:\n  a: {timeout: 5 seconds}\n", []string{`nodes.a.timeout: "5 seconds" is not a duration`}},
		{"zero duration", "nodes:\n  a: {timeout: 0s}\n", []string{"nodes.a.timeout: duration \"0s\" must be positive"}},
		{"duration as a number", "nodes:\n  a: {timeout: 5}\n", []string{"nodes.a.timeout"}},
		{"number expected", "nodes:\n  a: {retries: three}\n", []string{`nodes.a.retries: expected a whole number, found "three"`}},
		{"bool expected", "nodes:\n  a: {barge_in: maybe}\n", []string{"nodes.a.barge_in: expected true or false"}},
		{"list expected", "languages: zh\n", []string{"languages: expected a list"}},
		{"mapping expected", "nodes: [a, b]\n", []string{"nodes: expected a mapping"}},
		{"node not a mapping", "nodes:\n  a: play\n", []string{"nodes.a: expected a mapping of fields"}},
		{"prompt of the wrong kind", "nodes:\n  a: {prompt: [x]}\n", []string{"nodes.a.prompt: expected a mapping of fields"}},
		{"prompt name not text", "nodes:\n  a: {prompt: 12}\n", []string{"nodes.a.prompt: expected a prompt name or a prompt"}},
		{"key twice", "name: a\nname: b\n", []string{"name: given twice"}},
		{"option key twice", "nodes:\n  a: {options: {\"1\": x, \"1\": y}}\n", []string{"nodes.a.options.1: given twice"}},
		{"syntax error", "name: [a\n", []string{"line "}},
		{"empty", "", []string{"the document is empty"}},
		{"comment only", "# nothing\n", []string{"the document is empty"}},
		{"two documents", "name: a\n---\nname: b\n", []string{"more than one document"}},
		{"not a mapping", "- a\n", []string{"expected a mapping of fields"}},
		{"unknown alias", "name: *x\n", []string{"unknown anchor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("no error; doc %+v", doc)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	_, err := Parse([]byte("name: x\nnodes:\n  main:\n    type: menu\n    optoins: {}\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("got %v", err)
	}
	if p := ve.Problems[0]; p.Line != 5 || p.Path != "nodes.main.optoins" {
		t.Errorf("problem %+v, want line 5 at nodes.main.optoins", p)
	}
	if got, want := err.Error(), "line 5: nodes.main.optoins: unknown field"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseAliasesAndMerges(t *testing.T) {
	src := minimalYAML + `
  again:
    <<: &menu_defaults {timeout: 5s, retries: 2}
    type: menu
    prompt: bye
    options: {"1": bye}
  other:
    <<: *menu_defaults
    type: menu
    prompt: bye
    options: {"1": again}
`
	doc, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Nodes["other"]; n.Retries != 2 || time.Duration(n.Timeout) != 5*time.Second {
		t.Errorf("merged node: %+v", n)
	}
	if _, err := Parse([]byte("nodes:\n  a:\n    <<: {tpye: x}\n")); err == nil || !strings.Contains(err.Error(), "nodes.a.tpye: unknown field") {
		t.Errorf("unknown field in a merge: %v", err)
	}
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	b.WriteString("languages: *a11\n")
	if _, err := Parse([]byte(b.String())); err == nil {
		t.Fatal("alias bomb accepted")
	}
}

func TestParseTooLarge(t *testing.T) {
	src := "description: " + strings.Repeat("x", MaxDocSize) + "\n"
	if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}

func TestMarshalCanonical(t *testing.T) {
	doc, err := Parse([]byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"    prompt: bye\n", "    timeout: 500ms\n", `"1": bye`} {
		if !strings.Contains(s, want) {
			t.Errorf("canonical form lacks %q:\n%s", want, s)
		}
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("parse canonical form: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(doc, again) {
		t.Errorf("round trip changed the document:\n%+v\n%+v", doc, again)
	}
	out2, _ := Marshal(again)
	if string(out2) != s {
		t.Errorf("canonical form is not stable:\n%s\n%s", out, out2)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"5s", 5 * time.Second, "5s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"2m", 2 * time.Minute, "2m"},
		{"90s", 90 * time.Second, "1m30s"},
		{"1h", time.Hour, "1h"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
	} {
		d, err := ParseDuration(tt.in)
		if err != nil || time.Duration(d) != tt.want || d.String() != tt.out {
			t.Errorf("%s: got %v (%s), %v; want %v (%s)", tt.in, time.Duration(d), d, err, tt.want, tt.out)
		}
		js, _ := json.Marshal(d)
		var back Duration
		if err := json.Unmarshal(js, &back); err != nil || back != d {
			t.Errorf("%s: JSON %s came back as %v, %v", tt.in, js, back, err)
		}
	}
	for _, bad := range []string{"", "5", "-1s", "0s", "five"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDocJSONRoundTrip(t *testing.T) {
	doc, err := Parse(SampleHotline())
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"prompt":"welcome"`) || !strings.Contains(string(js), `"timeout":"5s"`) {
		t.Errorf("JSON form: %s", js)
	}
	var back Doc
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc, &back) {
		t.Error("JSON round trip changed the document")
	}
}
