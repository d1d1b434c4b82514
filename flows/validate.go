package flows

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ValidateOptions carry what the validator cannot know from the document.
type ValidateOptions struct {
	// Name, when set, is the name the document must carry (the flow it is
	// saved under).
	Name string
	// FlowExists tells whether a goto_flow target exists. Nil accepts every
	// well-formed name. A flow's own name is always accepted.
	FlowExists func(name string) bool
	// QueueExists tells whether a queue node's queue is configured. Nil
	// accepts every well-formed id.
	QueueExists func(id string) bool
	// TraceVars, when not empty, lists the trace.* variables a trace lookup
	// provides; ${trace.x} for another x is then an error.
	TraceVars []string
}

// Validators are the names a collect node's validator may take.
var Validators = []string{"trace_code", "digits"}

// BuiltinVars are set for every call.
var BuiltinVars = []string{"caller", "did", "call_id", "language"}

// Limits of the values a document may give.
const (
	MaxRetries      = 10
	MaxCollectMax   = 64
	MaxWaitTimeout  = time.Minute      // menu, language, collect timeouts; silence
	MaxRecording    = 10 * time.Minute // message max_duration
	MaxRingTimeout  = 10 * time.Minute // transfer timeout
	MaxPriority     = 20               // queue priority
	traceVarsMarker = "trace.*"
)

var (
	flowNamePattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	queueIDPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	keyNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`) // nodes, prompts
	langPattern     = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	setVarPattern   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`)
	readVarPattern  = regexp.MustCompile(`^[a-zA-Z0-9_.]{1,64}$`)
	varRefPattern   = regexp.MustCompile(`\$\{([a-zA-Z0-9_.]+)\}`)
	hhmmPattern     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// mediaSchemes are the Asterisk media URI schemes a prompt may play.
var mediaSchemes = []string{"sound", "recording", "tone", "digits", "number", "characters"}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// ValidFlowName tells whether name can name a flow.
func ValidFlowName(name string) bool { return flowNamePattern.MatchString(name) }

// WaitsForInput tells whether a node of this type waits for the caller
// (keys or speech), which is what keeps a loop from spinning.
func WaitsForInput(nodeType string) bool {
	switch nodeType {
	case TypeMenu, TypeCollect, TypeLanguage, TypeMessage:
		return true
	}
	return false
}

// nodeFields lists the fields each node type uses; required ones first,
// up to the count in nodeRequired.
var nodeFields = map[string][]string{
	TypeAnswer:      {"next"},
	TypePlay:        {"prompt", "next", "barge_in"},
	TypeMenu:        {"prompt", "options", "timeout", "retries", "invalid_prompt", "no_input_prompt", "fail_next"},
	TypeCollect:     {"prompt", "var", "max", "next", "min", "terminator", "first_timeout", "inter_timeout", "validator", "retries", "invalid_prompt", "no_input_prompt", "fail_next"},
	TypeTraceLookup: {"code_var", "found_next", "not_found_next", "error_next"},
	TypeBranch:      {"cases", "default"},
	TypeSet:         {"vars", "next"},
	TypeSchedule:    {"timezone", "open", "open_next", "closed_next", "holidays"},
	TypeLanguage:    {"prompt", "options", "next", "timeout", "default"},
	TypeMessage:     {"prompt", "next", "max_duration", "silence_timeout", "beep"},
	TypeTransfer:    {"to", "next", "timeout"},
	TypeGotoFlow:    {"flow"},
	TypeHangup:      {"prompt"},
	TypeQueue:       {"queue", "next", "priority", "message_next"},
}

// nodeRequired is how many of nodeFields[type] are required.
var nodeRequired = map[string]int{
	TypeAnswer: 1, TypePlay: 2, TypeMenu: 2, TypeCollect: 4, TypeTraceLookup: 4, TypeBranch: 2,
	TypeSet: 2, TypeSchedule: 4, TypeLanguage: 3, TypeMessage: 2, TypeTransfer: 2, TypeGotoFlow: 1, TypeHangup: 0,
	TypeQueue: 2,
}

// NodeTypes lists the node types.
func NodeTypes() []string {
	out := make([]string, 0, len(nodeFields))
	for t := range nodeFields {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// nodeFieldIndex maps a Node's yaml field names to field indexes.
var nodeFieldIndex = func() map[string]int {
	t := reflect.TypeFor[Node]()
	out := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "type" {
			out[name] = i
		}
	}
	return out
}()

// nodeFieldNames are the yaml names of Node's fields in declaration order.
var nodeFieldNames = func() []string {
	t := reflect.TypeFor[Node]()
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "type" {
			out = append(out, name)
		}
	}
	return out
}()

// Validate checks a parsed document and returns a *ValidationError listing
// every problem, each with its path, or nil.
//
// Rules: the flow name matches [a-z0-9_-]{1,64}; languages are well-formed,
// distinct, not empty, and include default_language; start names a node;
// node and prompt names match [a-zA-Z0-9_-]{1,64}; every node has a known
// type, the fields its type requires, and no field of another type; every
// target (next, fail_next, options of a menu, found_next, not_found_next,
// error_next, cases.N.next, default of a branch, open_next, closed_next)
// names a node; every node is reachable from start; no loop runs through
// nodes none of which waits for the caller (menu, collect, language,
// message); prompts are a reference to an existing prompt or have text
// and/or media, text in every language of the flow and in no other, media
// with a known scheme (sound:, recording:, tone:, digits:, number:,
// characters:); ${variables} are well-formed and available where used (see
// below); keys are one of 0-9 * #; language options and defaults are
// languages of the flow; durations are positive and bounded; retries are
// 0..10; collect has 0 <= min <= max <= 64 and a known validator; variable
// names are identifiers and built-ins are not assigned; schedules have a
// timezone that loads, days mon..sun, times HH:MM (to may be 24:00, after
// from) and holidays YYYY-MM-DD; transfer has a target without spaces;
// goto_flow names a well-formed flow that exists (opts.FlowExists).
//
// Variables: a node may use a variable set on every way from start to that
// node ("definitely set", a forward must-analysis over the graph that
// intersects at joins): built-ins (caller, did, call_id, language), the
// document's vars, a set node's vars and a collect node's var on the edges
// they leave by next, and trace.* on a trace lookup's found_next edge.
// The engine expands an unset variable to "", so a variable set on only some
// ways would read out as a gap on the others; the validator refuses that.
// Checked uses: ${...} in the prompts a node plays (its own, and the named
// prompts it refers to), in set values and in a transfer target, and a
// trace lookup's code_var. A branch may test any variable (an unset one is
// "", a legitimate test).
func Validate(doc *Doc, opts ValidateOptions) error {
	if doc == nil {
		return invalid("", "no document")
	}
	v := &validation{doc: doc, opts: opts, langs: map[string]bool{}}
	v.run()
	if len(v.problems) == 0 {
		return nil
	}
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Path < v.problems[j].Path })
	return &ValidationError{Problems: v.problems}
}

type validation struct {
	doc      *Doc
	opts     ValidateOptions
	langs    map[string]bool
	names    []string // node names, sorted
	problems []Problem
}

func (v *validation) addf(path, format string, a ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, a...)})
}

func (v *validation) run() {
	d := v.doc
	switch {
	case !flowNamePattern.MatchString(d.Name):
		v.addf("name", "%q is not a flow name: 1 to 64 of a-z, 0-9, _ and -", d.Name)
	case v.opts.Name != "" && d.Name != v.opts.Name:
		v.addf("name", "the document is named %q but saved as flow %q", d.Name, v.opts.Name)
	}
	v.languages()
	for k, val := range d.Vars {
		v.assignable("vars."+k, k)
		v.syntax("vars."+k, val)
	}
	for _, name := range sortedKeys(d.Prompts) {
		p := d.Prompts[name]
		path := "prompts." + name
		if !keyNamePattern.MatchString(name) {
			v.addf(path, "%q is not a prompt name: 1 to 64 of a-z, A-Z, 0-9, _ and -", name)
		}
		if p.Ref != "" {
			v.addf(path+".ref", "a prompt of the document cannot refer to another")
			continue
		}
		v.prompt(path, &p)
	}
	if len(d.Nodes) == 0 {
		v.addf("nodes", "a flow needs at least one node")
	}
	v.names = sortedKeys(d.Nodes)
	for _, name := range v.names {
		path := "nodes." + name
		if !keyNamePattern.MatchString(name) {
			v.addf(path, "%q is not a node name: 1 to 64 of a-z, A-Z, 0-9, _ and -", name)
		}
		n := d.Nodes[name]
		if n == nil {
			v.addf(path, "empty node")
			continue
		}
		v.node(path, n)
	}
	switch {
	case d.Start == "":
		v.addf("start", "required")
	case d.Nodes[d.Start] == nil:
		if _, ok := d.Nodes[d.Start]; !ok {
			v.addf("start", "node %q does not exist", d.Start)
		}
	default:
		g := v.graph()
		v.reachable(g)
		v.loops(g)
		v.variables(g)
	}
}

func (v *validation) languages() {
	d := v.doc
	if len(d.Languages) == 0 {
		v.addf("languages", "at least one language is required")
	}
	for i, l := range d.Languages {
		path := fmt.Sprintf("languages.%d", i)
		if !langPattern.MatchString(l) {
			v.addf(path, "%q is not a language code like zh or en", l)
		}
		if v.langs[l] {
			v.addf(path, "%q is listed twice", l)
		}
		v.langs[l] = true
	}
	switch {
	case d.DefaultLanguage == "":
		v.addf("default_language", "required")
	case !v.langs[d.DefaultLanguage]:
		v.addf("default_language", "%q is not one of the languages", d.DefaultLanguage)
	}
}

// prompt checks a prompt's form; variables are checked where it is played.
func (v *validation) prompt(path string, p *Prompt) {
	if p.Ref != "" {
		if len(p.Text) > 0 || len(p.Media) > 0 {
			v.addf(path, "a prompt either names another (ref) or has its own text and media, not both")
		}
		if _, ok := v.doc.Prompts[p.Ref]; !ok {
			v.addf(path, "prompt %q does not exist", p.Ref)
		}
		return
	}
	if len(p.Text) == 0 && len(p.Media) == 0 {
		v.addf(path, "empty prompt: give text or media")
		return
	}
	if len(p.Text) > 0 {
		for _, l := range v.doc.Languages {
			if strings.TrimSpace(p.Text[l]) == "" && v.langs[l] && langPattern.MatchString(l) {
				v.addf(path+".text", "no text for language %s", l)
			}
		}
		for _, l := range sortedKeys(p.Text) {
			tpath := path + ".text." + l
			if !v.langs[l] {
				v.addf(tpath, "%s is not one of the flow's languages", l)
			}
			if !utf8.ValidString(p.Text[l]) {
				v.addf(tpath, "not valid UTF-8")
			}
			v.syntax(tpath, p.Text[l])
		}
	}
	for i, m := range p.Media {
		scheme, rest, ok := strings.Cut(m, ":")
		if !ok || rest == "" || !slices.Contains(mediaSchemes, scheme) || strings.ContainsAny(m, " \t\r\n") {
			v.addf(fmt.Sprintf("%s.media.%d", path, i), "%q is not a media URI like sound:beep (schemes: %s)", m, strings.Join(mediaSchemes, ", "))
		}
	}
}

// syntax reports ${ that does not start a well-formed variable reference.
func (v *validation) syntax(path, s string) {
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			return
		}
		i += j
		loc := varRefPattern.FindStringIndex(s[i:])
		if loc == nil || loc[0] != 0 {
			end := min(len(s), i+20)
			v.addf(path, "malformed variable reference at %q: write ${name}", s[i:end])
			i += 2
			continue
		}
		i += loc[1]
	}
}

func (v *validation) assignable(path, name string) {
	switch {
	case !setVarPattern.MatchString(name):
		v.addf(path, "%q is not a variable name: a letter or _, then letters, digits or _", name)
	case slices.Contains(BuiltinVars, name):
		v.addf(path, "%s is a built-in variable and cannot be set", name)
	}
}

func (v *validation) node(path string, n *Node) {
	fields, known := nodeFields[n.Type]
	switch {
	case n.Type == "":
		v.addf(path+".type", "required (one of %s)", strings.Join(NodeTypes(), ", "))
	case !known:
		v.addf(path+".type", "unknown node type %q (one of %s)", n.Type, strings.Join(NodeTypes(), ", "))
	}
	if known {
		rv := reflect.ValueOf(n).Elem()
		for _, name := range nodeFieldNames {
			if !slices.Contains(fields, name) && !rv.Field(nodeFieldIndex[name]).IsZero() {
				v.addf(path+"."+name, "not used by a %s node", n.Type)
			}
		}
		for _, name := range fields[:nodeRequired[n.Type]] {
			f := rv.Field(nodeFieldIndex[name])
			empty := f.IsZero() || (f.Kind() == reflect.Map || f.Kind() == reflect.Slice) && f.Len() == 0
			if empty {
				v.addf(path+"."+name, "required for a %s node", n.Type)
			}
		}
	}
	for _, pf := range []struct {
		name string
		p    *Prompt
	}{{"prompt", n.Prompt}, {"invalid_prompt", n.InvalidPrompt}, {"no_input_prompt", n.NoInputPrompt}} {
		if pf.p != nil {
			v.prompt(path+"."+pf.name, pf.p)
		}
	}
	for _, t := range v.targets(n) {
		if t.to != "" && !t.synthetic {
			if _, ok := v.doc.Nodes[t.to]; !ok {
				v.addf(path+"."+t.field, "node %q does not exist", t.to)
			}
		}
	}
	v.retries(path+".retries", n.Retries)
	switch n.Type {
	case TypeMenu:
		v.duration(path+".timeout", n.Timeout, MaxWaitTimeout)
		for _, k := range sortedKeys(n.Options) {
			v.key(path+".options."+k, k)
			if n.Options[k] == "" {
				v.addf(path+".options."+k, "names no node")
			}
		}
	case TypeLanguage:
		v.duration(path+".timeout", n.Timeout, MaxWaitTimeout)
		for _, k := range sortedKeys(n.Options) {
			kpath := path + ".options." + k
			v.key(kpath, k)
			if !v.langs[n.Options[k]] {
				v.addf(kpath, "%q is not one of the languages", n.Options[k])
			}
		}
		if n.Default != "" && !v.langs[n.Default] {
			v.addf(path+".default", "%q is not one of the languages", n.Default)
		}
	case TypeCollect:
		if n.Var != "" {
			v.assignable(path+".var", n.Var)
		}
		if n.Min < 0 {
			v.addf(path+".min", "must not be negative")
		}
		if n.Max < 0 || n.Max > MaxCollectMax {
			v.addf(path+".max", "must be 1 to %d", MaxCollectMax)
		}
		if n.Min > n.Max && n.Max > 0 {
			v.addf(path+".min", "min %d is more than max %d", n.Min, n.Max)
		}
		if n.Terminator != "" {
			v.key(path+".terminator", n.Terminator)
		}
		if n.Validator != "" && !slices.Contains(Validators, n.Validator) {
			v.addf(path+".validator", "unknown validator %q (one of %s)", n.Validator, strings.Join(Validators, ", "))
		}
		v.duration(path+".first_timeout", n.FirstTimeout, MaxWaitTimeout)
		v.duration(path+".inter_timeout", n.InterTimeout, MaxWaitTimeout)
	case TypeTraceLookup:
		if n.CodeVar != "" && !readVarPattern.MatchString(n.CodeVar) {
			v.addf(path+".code_var", "%q is not a variable name", n.CodeVar)
		}
	case TypeBranch:
		for i, c := range n.Cases {
			cpath := fmt.Sprintf("%s.cases.%d", path, i)
			if !readVarPattern.MatchString(c.Var) {
				v.addf(cpath+".var", "%q is not a variable name", c.Var)
			}
			if c.Next == "" {
				v.addf(cpath+".next", "required")
			}
		}
	case TypeSet:
		for _, k := range sortedKeys(n.Vars) {
			v.assignable(path+".vars."+k, k)
			v.syntax(path+".vars."+k, n.Vars[k])
		}
	case TypeSchedule:
		v.schedule(path, n)
	case TypeMessage:
		v.duration(path+".max_duration", n.MaxDuration, MaxRecording)
		v.duration(path+".silence_timeout", n.SilenceTimeout, MaxWaitTimeout)
	case TypeTransfer:
		if n.To != "" && strings.ContainsAny(n.To, " \t\r\n") {
			v.addf(path+".to", "%q: an endpoint like PJSIP/1001 or a number, without spaces", n.To)
		}
		v.syntax(path+".to", n.To)
		v.duration(path+".timeout", n.Timeout, MaxRingTimeout)
	case TypeQueue:
		switch {
		case n.Queue == "":
		case !queueIDPattern.MatchString(n.Queue):
			v.addf(path+".queue", "%q is not a queue id", n.Queue)
		case v.opts.QueueExists != nil && !v.opts.QueueExists(n.Queue):
			v.addf(path+".queue", "queue %q is not configured", n.Queue)
		}
		if n.Priority != "" && !strings.Contains(n.Priority, "${") {
			if p, err := strconv.Atoi(n.Priority); err != nil || p < 0 || p > MaxPriority {
				v.addf(path+".priority", "%q: a number 0..%d or a ${variable}", n.Priority, MaxPriority)
			}
		}
		v.syntax(path+".priority", n.Priority)
	case TypeGotoFlow:
		switch {
		case n.Flow == "":
		case !flowNamePattern.MatchString(n.Flow):
			v.addf(path+".flow", "%q is not a flow name", n.Flow)
		case n.Flow != v.doc.Name && v.opts.FlowExists != nil && !v.opts.FlowExists(n.Flow):
			v.addf(path+".flow", "flow %q does not exist", n.Flow)
		}
	}
}

func (v *validation) key(path, k string) {
	if len(k) != 1 || !strings.Contains("0123456789*#", k) {
		v.addf(path, "%q is not a keypad key (0-9, *, #)", k)
	}
}

func (v *validation) retries(path string, n int) {
	if n < 0 || n > MaxRetries {
		v.addf(path, "must be 0 (the default, 3) to %d", MaxRetries)
	}
}

func (v *validation) duration(path string, d Duration, max time.Duration) {
	switch {
	case d < 0:
		v.addf(path, "must be positive")
	case time.Duration(d) > max:
		v.addf(path, "%s is longer than the limit %s", d, max)
	}
}

func (v *validation) schedule(path string, n *Node) {
	if n.Timezone != "" {
		if _, err := time.LoadLocation(n.Timezone); err != nil || n.Timezone == "Local" {
			v.addf(path+".timezone", "unknown timezone %q (an IANA name like Asia/Shanghai)", n.Timezone)
		}
	}
	for i, w := range n.Open {
		wpath := fmt.Sprintf("%s.open.%d", path, i)
		if len(w.Days) == 0 {
			v.addf(wpath+".days", "required: some of %s", strings.Join(weekdays, ", "))
		}
		for j, d := range w.Days {
			if !slices.Contains(weekdays, d) {
				v.addf(fmt.Sprintf("%s.days.%d", wpath, j), "%q is not a day (%s)", d, strings.Join(weekdays, ", "))
			}
		}
		fromOK := hhmmPattern.MatchString(w.From)
		toOK := hhmmPattern.MatchString(w.To) || w.To == "24:00"
		if !fromOK {
			v.addf(wpath+".from", "%q is not a time HH:MM (00:00 to 23:59)", w.From)
		}
		if !toOK {
			v.addf(wpath+".to", "%q is not a time HH:MM (00:00 to 24:00)", w.To)
		}
		if fromOK && toOK && w.To <= w.From {
			v.addf(wpath, "closes at %s, not after it opens at %s", w.To, w.From)
		}
	}
	for i, h := range n.Holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil || len(h) != 10 {
			v.addf(fmt.Sprintf("%s.holidays.%d", path, i), "%q is not a date YYYY-MM-DD", h)
		}
	}
}

// target is an edge of the flow graph.
type target struct {
	field     string   // path below the node: next, options.1, cases.0.next
	to        string   // node name ("" when absent)
	gen       []string // variables set when the flow leaves by this edge
	synthetic bool     // goto_flow to this flow: back to start, not a field naming a node
}

// targets lists the edges a node may leave by, in a stable order.
func (v *validation) targets(n *Node) []target {
	var out []target
	add := func(field, to string, gen ...string) {
		out = append(out, target{field: field, to: to, gen: gen})
	}
	switch n.Type {
	case TypeAnswer, TypePlay, TypeLanguage, TypeMessage, TypeTransfer:
		add("next", n.Next)
	case TypeQueue:
		add("next", n.Next)
		if n.MessageNext != "" {
			add("message_next", n.MessageNext)
		}
	case TypeSet:
		add("next", n.Next, sortedKeys(n.Vars)...)
	case TypeMenu:
		for _, k := range sortedKeys(n.Options) {
			add("options."+k, n.Options[k])
		}
		add("fail_next", n.FailNext)
	case TypeCollect:
		if n.Var != "" {
			add("next", n.Next, n.Var)
		} else {
			add("next", n.Next)
		}
		add("fail_next", n.FailNext)
	case TypeTraceLookup:
		add("found_next", n.FoundNext, traceVarsMarker)
		add("not_found_next", n.NotFoundNext)
		add("error_next", n.ErrorNext)
	case TypeBranch:
		for i, c := range n.Cases {
			add(fmt.Sprintf("cases.%d.next", i), c.Next)
		}
		add("default", n.Default)
	case TypeSchedule:
		add("open_next", n.OpenNext)
		add("closed_next", n.ClosedNext)
	case TypeGotoFlow:
		if n.Flow == v.doc.Name {
			out = append(out, target{field: "flow", to: v.doc.Start, synthetic: true})
		}
	case TypeHangup:
	default: // unknown type: follow what looks like a target, to spare noise
		for _, f := range []struct{ field, to string }{
			{"next", n.Next}, {"fail_next", n.FailNext}, {"found_next", n.FoundNext},
			{"not_found_next", n.NotFoundNext}, {"error_next", n.ErrorNext},
			{"open_next", n.OpenNext}, {"closed_next", n.ClosedNext},
		} {
			if f.to != "" {
				add(f.field, f.to)
			}
		}
	}
	return out
}

// graph holds the edges between existing nodes.
type graph map[string][]target

func (v *validation) graph() graph {
	g := graph{}
	for _, name := range v.names {
		n := v.doc.Nodes[name]
		if n == nil {
			continue
		}
		for _, t := range v.targets(n) {
			if nn, ok := v.doc.Nodes[t.to]; ok && nn != nil {
				g[name] = append(g[name], t)
			}
		}
	}
	return g
}

func (v *validation) reachable(g graph) {
	seen := map[string]bool{v.doc.Start: true}
	queue := []string{v.doc.Start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range g[n] {
			if !seen[t.to] {
				seen[t.to] = true
				queue = append(queue, t.to)
			}
		}
	}
	for _, name := range v.names {
		if !seen[name] && v.doc.Nodes[name] != nil {
			v.addf("nodes."+name, "unreachable from start (%s)", v.doc.Start)
		}
	}
}

// loops reports cycles of nodes none of which waits for the caller: the
// flow would spin without end. Tarjan's algorithm finds the strongly
// connected components of the graph of such nodes.
func (v *validation) loops(g graph) {
	spins := func(name string) bool {
		n := v.doc.Nodes[name]
		return n != nil && !WaitsForInput(n.Type)
	}
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	next := 0
	var sccs [][]string
	var connect func(string)
	connect = func(n string) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		onStack[n] = true
		for _, t := range g[n] {
			if !spins(t.to) {
				continue
			}
			if _, seen := index[t.to]; !seen {
				connect(t.to)
				low[n] = min(low[n], low[t.to])
			} else if onStack[t.to] {
				low[n] = min(low[n], index[t.to])
			}
		}
		if low[n] == index[n] {
			var scc []string
			for {
				m := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[m] = false
				scc = append(scc, m)
				if m == n {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, name := range v.names {
		if _, seen := index[name]; !seen && spins(name) {
			connect(name)
		}
	}
	for _, scc := range sccs {
		in := map[string]bool{}
		for _, m := range scc {
			in[m] = true
		}
		sort.Strings(scc)
		first := scc[0]
		if len(scc) == 1 && !slices.ContainsFunc(g[first], func(t target) bool { return t.to == first }) {
			continue
		}
		v.addf("nodes."+first, "loop without caller input: %s", strings.Join(cycle(g, first, in), " → "))
	}
}

// cycle finds a shortest way from first back to itself within the nodes in.
func cycle(g graph, first string, in map[string]bool) []string {
	parent := map[string]string{}
	queue := []string{first}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range g[n] {
			if !in[t.to] {
				continue
			}
			if t.to == first {
				path := []string{first}
				for m := n; m != first; m = parent[m] {
					path = append(path, m)
				}
				path = append(path, first)
				slices.Reverse(path[1 : len(path)-1])
				return path
			}
			if _, seen := parent[t.to]; !seen {
				parent[t.to] = n
				queue = append(queue, t.to)
			}
		}
	}
	return []string{first}
}

// varSet is a set of variable names; nil stands for "every variable" (the
// top of the lattice, for nodes not reached yet).
type varSet map[string]bool

// variables runs the must-analysis described at Validate and checks uses.
func (v *validation) variables(g graph) {
	start := varSet{}
	for _, b := range BuiltinVars {
		start[b] = true
	}
	for k := range v.doc.Vars {
		start[k] = true
	}
	in := map[string]varSet{v.doc.Start: start}
	work := []string{v.doc.Start}
	queued := map[string]bool{v.doc.Start: true}
	for len(work) > 0 {
		n := work[0]
		work = work[1:]
		queued[n] = false
		for _, t := range g[n] {
			out := make(varSet, len(in[n])+len(t.gen))
			for k := range in[n] {
				out[k] = true
			}
			for _, k := range t.gen {
				out[k] = true
			}
			changed := false
			if cur, ok := in[t.to]; !ok {
				in[t.to] = out
				changed = true
			} else {
				for k := range cur {
					if !out[k] {
						delete(cur, k)
						changed = true
					}
				}
			}
			if changed && !queued[t.to] {
				queued[t.to] = true
				work = append(work, t.to)
			}
		}
	}
	for _, name := range v.names {
		avail, reached := in[name]
		n := v.doc.Nodes[name]
		if !reached || n == nil {
			continue // unreachable: reported already
		}
		path := "nodes." + name
		for _, pf := range []struct {
			name string
			p    *Prompt
		}{{"prompt", n.Prompt}, {"invalid_prompt", n.InvalidPrompt}, {"no_input_prompt", n.NoInputPrompt}} {
			v.promptVars(path+"."+pf.name, pf.p, avail)
		}
		switch n.Type {
		case TypeSet:
			for _, k := range sortedKeys(n.Vars) {
				v.uses(path+".vars."+k, n.Vars[k], avail, "")
			}
		case TypeTransfer:
			v.uses(path+".to", n.To, avail, "")
		case TypeQueue:
			v.uses(path+".priority", n.Priority, avail, "")
		case TypeTraceLookup:
			if n.CodeVar != "" && !v.available(n.CodeVar, avail) {
				v.addf(path+".code_var", "%s is not set on every way to this node", n.CodeVar)
			}
		}
	}
}

func (v *validation) promptVars(path string, p *Prompt, avail varSet) {
	if p == nil {
		return
	}
	via := ""
	if p.Ref != "" {
		named, ok := v.doc.Prompts[p.Ref]
		if !ok || named.Ref != "" {
			return // reported already
		}
		p, via = &named, fmt.Sprintf("prompt %q ", p.Ref)
	}
	for _, l := range sortedKeys(p.Text) {
		if via != "" {
			v.uses(path, p.Text[l], avail, fmt.Sprintf("%s(text %s) ", via, l))
		} else {
			v.uses(path+".text."+l, p.Text[l], avail, "")
		}
	}
}

func (v *validation) uses(path, s string, avail varSet, via string) {
	seen := map[string]bool{}
	for _, m := range varRefPattern.FindAllStringSubmatch(s, -1) {
		name := m[1]
		if seen[name] || v.available(name, avail) {
			continue
		}
		seen[name] = true
		switch {
		case strings.HasPrefix(name, "trace.") && avail[traceVarsMarker]:
			v.addf(path, "%suses ${%s}, which a trace lookup does not provide (%s)", via, name, strings.Join(v.opts.TraceVars, ", "))
		default:
			v.addf(path, "%suses ${%s}, which is not set on every way to this node", via, name)
		}
	}
}

func (v *validation) available(name string, avail varSet) bool {
	if avail[name] {
		return true
	}
	if strings.HasPrefix(name, "trace.") && avail[traceVarsMarker] {
		return len(v.opts.TraceVars) == 0 || slices.Contains(v.opts.TraceVars, name)
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
