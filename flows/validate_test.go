package flows

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func txt(zh, en string) *Prompt { return &Prompt{Text: map[string]string{"zh": zh, "en": en}} }

// validDoc uses every node type and passes Validate.
func validDoc() *Doc {
	return &Doc{
		Name: "test", Languages: []string{"zh", "en"}, DefaultLanguage: "zh", Start: "answer",
		Vars: map[string]string{"queue": "general"},
		Prompts: map[string]Prompt{
			"bye":  {Text: map[string]string{"zh": "再见", "en": "Goodbye"}},
			"beep": {Media: []string{"sound:beep"}},
		},
		Nodes: map[string]*Node{
			"answer": {Type: TypeAnswer, Next: "hours"},
			"hours": {Type: TypeSchedule, Timezone: "Asia/Shanghai",
				Open:     []OpenHours{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "08:00", To: "20:00"}, {Days: []string{"sat"}, From: "09:00", To: "24:00"}},
				Holidays: []string{"2026-10-01"}, OpenNext: "lang", ClosedNext: "night"},
			"lang": {Type: TypeLanguage, Prompt: txt("中文请按1", "For English press 2"),
				Options: map[string]string{"1": "zh", "2": "en"}, Default: "zh", Timeout: Duration(5 * time.Second), Next: "mark"},
			"mark": {Type: TypeSet, Vars: map[string]string{"greeted": "yes ${caller}"}, Next: "vip"},
			"vip":  {Type: TypeBranch, Cases: []Case{{Var: "caller", Equals: "13800138000", Next: "agent"}}, Default: "menu"},
			"menu": {Type: TypeMenu, Prompt: txt("查询请按1，人工请按0", "Lookup 1, agent 0"),
				Options: map[string]string{"1": "code", "0": "agent", "#": "other", "*": "menu"}, Timeout: Duration(5 * time.Second), Retries: 3,
				InvalidPrompt: &Prompt{Ref: "beep"}, NoInputPrompt: &Prompt{Ref: "beep"}, FailNext: "bye"},
			"code": {Type: TypeCollect, Prompt: txt("请输入追溯码", "Enter the trace code"), Var: "code", Min: 8, Max: 20,
				Terminator: "#", Validator: "trace_code", Retries: 3, FirstTimeout: Duration(10 * time.Second), InterTimeout: Duration(5 * time.Second),
				InvalidPrompt: txt("无效", "Not valid"), Next: "lookup", FailNext: "menu"},
			"lookup":   {Type: TypeTraceLookup, CodeVar: "code", FoundNext: "readout", NotFoundNext: "notfound", ErrorNext: "bye"},
			"readout":  {Type: TypePlay, Prompt: txt("产品${trace.product}", "Product ${trace.product}, code ${code}"), Next: "menu"},
			"notfound": {Type: TypePlay, Prompt: txt("没有${code}的记录", "No record for ${code}"), BargeIn: new(bool), Next: "code"},
			"agent":    {Type: TypeTransfer, To: "PJSIP/1001", Timeout: Duration(30 * time.Second), Next: "night"},
			"night": {Type: TypeMessage, Prompt: txt("请留言", "Leave a message"), MaxDuration: Duration(2 * time.Minute),
				SilenceTimeout: Duration(5 * time.Second), Next: "bye"},
			"other": {Type: TypeGotoFlow, Flow: "complaints"},
			"bye":   {Type: TypeHangup, Prompt: &Prompt{Ref: "bye"}},
		},
	}
}

func TestValidateValid(t *testing.T) {
	if err := Validate(validDoc(), ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	doc, err := Check(SampleHotline(), ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(doc, ValidateOptions{Name: "hotline"}); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		opts   ValidateOptions
		change func(d *Doc)
		path   string
		msg    string // substring of the message
	}{
		// document
		{"name pattern", ValidateOptions{}, func(d *Doc) { d.Name = "Hot Line" }, "name", "not a flow name"},
		{"name as saved", ValidateOptions{Name: "other"}, func(d *Doc) {}, "name", `saved as flow "other"`},
		{"no languages", ValidateOptions{}, func(d *Doc) { d.Languages = nil }, "languages", "at least one"},
		{"language code", ValidateOptions{}, func(d *Doc) { d.Languages = append(d.Languages, "Chinese") }, "languages.2", "not a language code"},
		{"language twice", ValidateOptions{}, func(d *Doc) { d.Languages = append(d.Languages, "zh") }, "languages.2", "listed twice"},
		{"default language missing", ValidateOptions{}, func(d *Doc) { d.DefaultLanguage = "" }, "default_language", "required"},
		{"default language not listed", ValidateOptions{}, func(d *Doc) { d.DefaultLanguage = "fr" }, "default_language", "not one of the languages"},
		{"start missing", ValidateOptions{}, func(d *Doc) { d.Start = "" }, "start", "required"},
		{"start unknown", ValidateOptions{}, func(d *Doc) { d.Start = "nope" }, "start", `node "nope" does not exist`},
		{"no nodes", ValidateOptions{}, func(d *Doc) { d.Nodes = nil; d.Start = "" }, "nodes", "at least one node"},
		{"doc var name", ValidateOptions{}, func(d *Doc) { d.Vars["2x"] = "" }, "vars.2x", "not a variable name"},
		{"doc var built-in", ValidateOptions{}, func(d *Doc) { d.Vars["caller"] = "" }, "vars.caller", "built-in"},
		// nodes
		{"node name", ValidateOptions{}, func(d *Doc) { d.Nodes["a.b"] = &Node{Type: TypeHangup}; d.Nodes["bye"].Type = TypeGotoFlow }, "nodes.a.b", "not a node name"},
		{"empty node", ValidateOptions{}, func(d *Doc) { d.Nodes["x"] = nil }, "nodes.x", "empty node"},
		{"type missing", ValidateOptions{}, func(d *Doc) { d.Nodes["answer"].Type = "" }, "nodes.answer.type", "required"},
		{"unknown type", ValidateOptions{}, func(d *Doc) { d.Nodes["answer"].Type = "dance" }, "nodes.answer.type", `unknown node type "dance"`},
		{"field of another type", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Options = map[string]string{"1": "menu"} }, "nodes.readout.options", "not used by a play node"},
		{"beep on a play", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Beep = new(bool) }, "nodes.readout.beep", "not used by a play node"},
		{"next on a hangup", ValidateOptions{}, func(d *Doc) { d.Nodes["bye"].Next = "menu" }, "nodes.bye.next", "not used by a hangup node"},
		{"answer needs next", ValidateOptions{}, func(d *Doc) { d.Nodes["answer"].Next = "" }, "nodes.answer.next", "required for a answer node"},
		{"play needs prompt", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Prompt = nil }, "nodes.readout.prompt", "required"},
		{"menu needs options", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Options = map[string]string{} }, "nodes.menu.options", "required"},
		{"collect needs var", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Var = "" }, "nodes.code.var", "required"},
		{"collect needs max", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Max = 0; d.Nodes["code"].Min = 0 }, "nodes.code.max", "required"},
		{"lookup needs error_next", ValidateOptions{}, func(d *Doc) { d.Nodes["lookup"].ErrorNext = "" }, "nodes.lookup.error_next", "required"},
		{"branch needs default", ValidateOptions{}, func(d *Doc) { d.Nodes["vip"].Default = "" }, "nodes.vip.default", "required"},
		{"set needs vars", ValidateOptions{}, func(d *Doc) { d.Nodes["mark"].Vars = nil }, "nodes.mark.vars", "required"},
		{"schedule needs timezone", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Timezone = "" }, "nodes.hours.timezone", "required"},
		{"language needs next", ValidateOptions{}, func(d *Doc) { d.Nodes["lang"].Next = "" }, "nodes.lang.next", "required"},
		{"message needs prompt", ValidateOptions{}, func(d *Doc) { d.Nodes["night"].Prompt = nil }, "nodes.night.prompt", "required"},
		{"transfer needs to", ValidateOptions{}, func(d *Doc) { d.Nodes["agent"].To = "" }, "nodes.agent.to", "required"},
		{"goto_flow needs flow", ValidateOptions{}, func(d *Doc) { d.Nodes["other"].Flow = "" }, "nodes.other.flow", "required"},
		// targets
		{"next target", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Next = "gone" }, "nodes.readout.next", `node "gone" does not exist`},
		{"option target", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Options["1"] = "gone" }, "nodes.menu.options.1", `node "gone" does not exist`},
		{"option without target", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Options["1"] = "" }, "nodes.menu.options.1", "names no node"},
		{"fail_next target", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].FailNext = "gone" }, "nodes.menu.fail_next", "does not exist"},
		{"found_next target", ValidateOptions{}, func(d *Doc) { d.Nodes["lookup"].FoundNext = "gone" }, "nodes.lookup.found_next", "does not exist"},
		{"not_found_next target", ValidateOptions{}, func(d *Doc) { d.Nodes["lookup"].NotFoundNext = "gone" }, "nodes.lookup.not_found_next", "does not exist"},
		{"case target", ValidateOptions{}, func(d *Doc) { d.Nodes["vip"].Cases[0].Next = "gone" }, "nodes.vip.cases.0.next", "does not exist"},
		{"case without target", ValidateOptions{}, func(d *Doc) { d.Nodes["vip"].Cases[0].Next = "" }, "nodes.vip.cases.0.next", "required"},
		{"case var", ValidateOptions{}, func(d *Doc) { d.Nodes["vip"].Cases[0].Var = "" }, "nodes.vip.cases.0.var", "not a variable name"},
		{"branch default target", ValidateOptions{}, func(d *Doc) { d.Nodes["vip"].Default = "gone" }, "nodes.vip.default", "does not exist"},
		{"open_next target", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].OpenNext = "gone" }, "nodes.hours.open_next", "does not exist"},
		{"closed_next target", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].ClosedNext = "gone" }, "nodes.hours.closed_next", "does not exist"},
		// graph
		{"unreachable", ValidateOptions{}, func(d *Doc) { d.Nodes["orphan"] = &Node{Type: TypeHangup} }, "nodes.orphan", "unreachable from start"},
		{"loop without input", ValidateOptions{}, func(d *Doc) {
			d.Nodes["readout"].Next = "again"
			d.Nodes["again"] = &Node{Type: TypeSet, Vars: map[string]string{"n": "1"}, Next: "readout"}
		}, "nodes.again", "loop without caller input: again → readout → again"},
		{"self loop", ValidateOptions{}, func(d *Doc) { d.Nodes["answer"].Next = "answer" }, "nodes.answer", "loop without caller input: answer → answer"},
		{"goto_flow to itself without input", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].OpenNext = "other"; d.Nodes["other"].Flow = "test" }, "nodes.answer", "loop without caller input: answer → hours → other → answer"},
		// prompts
		{"prompt ref", ValidateOptions{}, func(d *Doc) { d.Nodes["bye"].Prompt.Ref = "nope" }, "nodes.bye.prompt", `prompt "nope" does not exist`},
		{"prompt ref and text", ValidateOptions{}, func(d *Doc) { d.Nodes["bye"].Prompt.Text = map[string]string{"zh": "x", "en": "y"} }, "nodes.bye.prompt", "not both"},
		{"empty prompt", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Prompt = &Prompt{} }, "nodes.readout.prompt", "empty prompt"},
		{"named prompt refers", ValidateOptions{}, func(d *Doc) { d.Prompts["alias"] = Prompt{Ref: "bye"} }, "prompts.alias.ref", "cannot refer"},
		{"prompt name", ValidateOptions{}, func(d *Doc) { d.Prompts["a b"] = Prompt{Media: []string{"sound:x"}} }, "prompts.a b", "not a prompt name"},
		{"missing translation", ValidateOptions{}, func(d *Doc) { delete(d.Prompts["bye"].Text, "en") }, "prompts.bye.text", "no text for language en"},
		{"blank translation", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Prompt.Text["zh"] = " " }, "nodes.readout.prompt.text", "no text for language zh"},
		{"translation not a language", ValidateOptions{}, func(d *Doc) { d.Prompts["bye"].Text["fr"] = "Au revoir" }, "prompts.bye.text.fr", "not one of the flow's languages"},
		{"invalid UTF-8", ValidateOptions{}, func(d *Doc) { d.Prompts["bye"].Text["en"] = "bye \xff" }, "prompts.bye.text.en", "UTF-8"},
		{"media scheme", ValidateOptions{}, func(d *Doc) { d.Prompts["beep"] = Prompt{Media: []string{"http://x/beep.wav"}} }, "prompts.beep.media.0", "not a media URI"},
		{"malformed variable", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Prompt.Text["en"] = "Product ${trace product}" }, "nodes.readout.prompt.text.en", "malformed variable reference"},
		// variables
		{"unknown variable", ValidateOptions{}, func(d *Doc) { d.Nodes["readout"].Prompt.Text["en"] = "Hi ${nobody}" }, "nodes.readout.prompt.text.en", "${nobody}, which is not set on every way"},
		{"trace variable before a lookup", ValidateOptions{}, func(d *Doc) { d.Nodes["notfound"].Prompt.Text["zh"] = "${trace.product}" }, "nodes.notfound.prompt.text.zh", "${trace.product}"},
		{"variable set on some ways only", ValidateOptions{}, func(d *Doc) { d.Nodes["bye"].Prompt = txt("再见${code}", "Bye ${code}") }, "nodes.bye.prompt.text.en", "${code}, which is not set on every way"},
		{"variable in a named prompt", ValidateOptions{}, func(d *Doc) { d.Prompts["bye"].Text["en"] = "Bye ${code}" }, "nodes.bye.prompt", `prompt "bye" (text en) uses ${code}`},
		{"variable in a set value", ValidateOptions{}, func(d *Doc) { d.Nodes["mark"].Vars["x"] = "${code}" }, "nodes.mark.vars.x", "${code}"},
		{"variable in a transfer target", ValidateOptions{}, func(d *Doc) { d.Nodes["agent"].To = "PJSIP/${code}" }, "nodes.agent.to", "${code}"},
		{"code_var not set", ValidateOptions{}, func(d *Doc) { d.Nodes["lookup"].CodeVar = "pin" }, "nodes.lookup.code_var", "pin is not set on every way"},
		{"trace variable not provided", ValidateOptions{TraceVars: []string{"trace.batch"}}, func(d *Doc) {}, "nodes.readout.prompt.text.en", "a trace lookup does not provide"},
		{"set a built-in", ValidateOptions{}, func(d *Doc) { d.Nodes["mark"].Vars["did"] = "1" }, "nodes.mark.vars.did", "built-in"},
		{"set a bad name", ValidateOptions{}, func(d *Doc) { d.Nodes["mark"].Vars["trace.product"] = "1" }, "nodes.mark.vars.trace.product", "not a variable name"},
		{"collect var name", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Var = "my code" }, "nodes.code.var", "not a variable name"},
		// keys and languages
		{"menu key", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Options["10"] = "code" }, "nodes.menu.options.10", "not a keypad key"},
		{"menu key letter", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Options["a"] = "code" }, "nodes.menu.options.a", "not a keypad key"},
		{"language key", ValidateOptions{}, func(d *Doc) { d.Nodes["lang"].Options["x"] = "en" }, "nodes.lang.options.x", "not a keypad key"},
		{"language option", ValidateOptions{}, func(d *Doc) { d.Nodes["lang"].Options["3"] = "fr" }, "nodes.lang.options.3", `"fr" is not one of the languages`},
		{"language default", ValidateOptions{}, func(d *Doc) { d.Nodes["lang"].Default = "fr" }, "nodes.lang.default", "not one of the languages"},
		{"terminator", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Terminator = "##" }, "nodes.code.terminator", "not a keypad key"},
		// numbers and durations
		{"negative duration", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Timeout = -1 }, "nodes.menu.timeout", "must be positive"},
		{"timeout too long", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].FirstTimeout = Duration(2 * time.Minute) }, "nodes.code.first_timeout", "longer than the limit 1m0s"},
		{"recording too long", ValidateOptions{}, func(d *Doc) { d.Nodes["night"].MaxDuration = Duration(time.Hour) }, "nodes.night.max_duration", "longer than the limit"},
		{"ring too long", ValidateOptions{}, func(d *Doc) { d.Nodes["agent"].Timeout = Duration(time.Hour) }, "nodes.agent.timeout", "longer than the limit"},
		{"retries", ValidateOptions{}, func(d *Doc) { d.Nodes["menu"].Retries = 11 }, "nodes.menu.retries", "must be 0"},
		{"negative retries", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Retries = -1 }, "nodes.code.retries", "must be 0"},
		{"min above max", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Min = 30 }, "nodes.code.min", "more than max"},
		{"negative min", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Min = -1 }, "nodes.code.min", "negative"},
		{"max above 64", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Max = 65 }, "nodes.code.max", "1 to 64"},
		{"validator", ValidateOptions{}, func(d *Doc) { d.Nodes["code"].Validator = "luhn" }, "nodes.code.validator", `unknown validator "luhn"`},
		// schedule
		{"timezone", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Timezone = "Mars/Olympus" }, "nodes.hours.timezone", "unknown timezone"},
		{"timezone Local", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Timezone = "Local" }, "nodes.hours.timezone", "unknown timezone"},
		{"schedule needs open hours", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open = nil }, "nodes.hours.open", "required"},
		{"day", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open[0].Days[1] = "Tuesday" }, "nodes.hours.open.0.days.1", `"Tuesday" is not a day`},
		{"no days", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open[0].Days = nil }, "nodes.hours.open.0.days", "required"},
		{"from time", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open[0].From = "8:00" }, "nodes.hours.open.0.from", "not a time HH:MM"},
		{"to time", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open[0].To = "20:60" }, "nodes.hours.open.0.to", "not a time HH:MM"},
		{"from 24:00", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open[0].From = "24:00" }, "nodes.hours.open.0.from", "not a time HH:MM"},
		{"closes before it opens", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Open[0].To = "07:00" }, "nodes.hours.open.0", "not after it opens"},
		{"holiday", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Holidays = append(d.Nodes["hours"].Holidays, "2026-2-30") }, "nodes.hours.holidays.1", "not a date YYYY-MM-DD"},
		{"holiday date", ValidateOptions{}, func(d *Doc) { d.Nodes["hours"].Holidays[0] = "2026-02-30" }, "nodes.hours.holidays.0", "not a date"},
		// transfer and goto_flow
		{"transfer target spaces", ValidateOptions{}, func(d *Doc) { d.Nodes["agent"].To = "PJSIP 1001" }, "nodes.agent.to", "without spaces"},
		{"goto_flow name", ValidateOptions{}, func(d *Doc) { d.Nodes["other"].Flow = "Complaints!" }, "nodes.other.flow", "not a flow name"},
		{"goto_flow exists", ValidateOptions{FlowExists: func(name string) bool { return name == "hotline" }}, func(d *Doc) {}, "nodes.other.flow", `flow "complaints" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDoc()
			tt.change(d)
			err := Validate(d, tt.opts)
			if err == nil {
				t.Fatalf("no error, want %s: %s", tt.path, tt.msg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%T is not a *ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:\n%v", tt.path, tt.msg, err)
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	d := validDoc()
	d.Name = "Bad"
	d.Nodes["menu"].Options["x"] = "gone"
	d.Nodes["code"].Max = 100
	err := Validate(d, ValidateOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	want := []string{"name", "nodes.code.max", "nodes.menu.options.x"}
	paths := map[string]bool{}
	for _, p := range ve.Problems {
		paths[p.Path] = true
	}
	for _, w := range want {
		if !paths[w] {
			t.Errorf("no problem at %s in\n%v", w, err)
		}
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(ve.Problems) {
		t.Errorf("Error() has %d lines for %d problems", len(lines), len(ve.Problems))
	}
}

func TestValidateVariablesFlow(t *testing.T) {
	// A variable set before a loop stays available around it; one set
	// inside the loop is available after the loop's entry only when every
	// way in sets it.
	d := validDoc()
	d.Nodes["readout"].Prompt.Text["en"] = "Product ${trace.product}, code ${code}, ${greeted}, queue ${queue}, ${language}"
	if err := Validate(d, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The closed branch skips mark: ${greeted} is then not set on every way to bye.
	d.Prompts["bye"].Text["en"] = "Goodbye ${greeted}"
	err := Validate(d, ValidateOptions{})
	if err == nil || !strings.Contains(err.Error(), "${greeted}") {
		t.Fatalf("got %v", err)
	}
}

func TestCheckLines(t *testing.T) {
	src := []byte(strings.Replace(minimalYAML, `options: {"1": bye}`, `options: {"1": gone}`, 1))
	_, err := Check(src, ValidateOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	found := false
	for _, p := range ve.Problems {
		if p.Path == "nodes.hello.options.1" {
			found = true
			if p.Line != 13 {
				t.Errorf("line %d, want 13", p.Line)
			}
		}
	}
	if !found {
		t.Errorf("no problem at nodes.hello.options.1: %v", err)
	}
}
