package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxDocSize bounds a flow document's source.
const MaxDocSize = 1 << 20

// maxNodes bounds the YAML nodes visited while checking a document, aliases
// expanded, so that an alias bomb is refused instead of walked.
const maxNodes = 200_000

// Parse reads a flow document written in YAML or JSON (JSON is YAML). It is
// strict: an unknown field, a value of the wrong kind or a key given twice is
// an error naming its path (nodes.main.optoins: unknown field). A prompt may
// be written as a bare string, the name of one of the document's prompts.
// Every problem found is reported at once in a *ValidationError, which wraps
// ErrInvalid. Parse does not validate the flow; see Validate and Check.
func Parse(data []byte) (*Doc, error) {
	doc, _, err := parse(data)
	return doc, err
}

// Check parses and validates a document. Problems carry the line of the
// source they refer to where it can be found.
func Check(data []byte, opts ValidateOptions) (*Doc, error) {
	doc, root, err := parse(data)
	if err != nil {
		return nil, err
	}
	if err := Validate(doc, opts); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			for i := range ve.Problems {
				ve.Problems[i].Line = lineOf(root, ve.Problems[i].Path)
			}
		}
		return doc, err
	}
	return doc, nil
}

func parse(data []byte) (*Doc, *yaml.Node, error) {
	if len(data) > MaxDocSize {
		return nil, nil, invalid("", fmt.Sprintf("the document is larger than %d bytes", MaxDocSize))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, invalid("", "the document is empty")
		}
		return nil, nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, &ValidationError{Problems: []Problem{{Line: extra.Line, Message: "more than one document in the source"}}}
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, syntaxError(err)
	}
	body := &root
	if body.Kind == yaml.DocumentNode {
		if len(body.Content) == 0 {
			return nil, nil, invalid("", "the document is empty")
		}
		body = body.Content[0]
	}
	c := checker{budget: maxNodes}
	c.check(body, reflect.TypeFor[Doc](), "")
	if len(c.problems) > 0 {
		return nil, nil, &ValidationError{Problems: c.problems}
	}
	var doc Doc
	if err := body.Decode(&doc); err != nil {
		return nil, nil, syntaxError(err)
	}
	return &doc, body, nil
}

func invalid(path, msg string) *ValidationError {
	return &ValidationError{Problems: []Problem{{Path: path, Message: msg}}}
}

// syntaxError turns a YAML error ("yaml: line 3: mapping values are not
// allowed in this context") into a problem with its line.
func syntaxError(err error) *ValidationError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	return &ValidationError{Problems: []Problem{{Line: line, Message: msg}}}
}

// checker walks the YAML tree against the Go types of the document.
type checker struct {
	problems []Problem
	budget   int
}

func (c *checker) add(n *yaml.Node, path, format string, a ...any) {
	c.problems = append(c.problems, Problem{Path: path, Line: n.Line, Message: fmt.Sprintf(format, a...)})
}

var (
	durationType = reflect.TypeFor[Duration]()
	promptType   = reflect.TypeFor[Prompt]()
)

func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	if c.budget--; c.budget < 0 {
		if c.budget == -1 {
			c.add(n, path, "the document is too large (aliases expanded)")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			c.add(n, path, "unknown alias")
			return
		}
		c.check(n.Alias, t, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // the zero value
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			c.add(n, path, "expected a duration like 5s or 500ms")
			return
		}
		var d Duration
		if err := d.UnmarshalYAML(n); err != nil {
			c.add(n, path, "%v", err)
		}
		return
	case t == promptType && n.Kind == yaml.ScalarNode:
		if n.Tag != "!!str" {
			c.add(n, path, "expected a prompt name or a prompt")
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, "expected a mapping of fields, found %s", kindName(n))
			return
		}
		fields := yamlFields(t)
		c.mapping(n, path, func(key string, v *yaml.Node, kpath string, k *yaml.Node) {
			f, ok := fields[key]
			if !ok {
				c.add(k, kpath, "unknown field")
				return
			}
			c.check(v, f.Type, kpath)
		}, t)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, "expected a mapping, found %s", kindName(n))
			return
		}
		c.mapping(n, path, func(_ string, v *yaml.Node, kpath string, _ *yaml.Node) {
			c.check(v, t.Elem(), kpath)
		}, t)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n, path, "expected a list, found %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), join(path, strconv.Itoa(i)))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			c.add(n, path, "expected %s, found %s", scalarName(t), kindName(n))
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			c.add(n, path, "expected %s, found %q", scalarName(t), n.Value)
		}
	}
}

// mapping visits the entries of a mapping node, following merge keys (<<)
// and refusing keys given twice.
func (c *checker) mapping(n *yaml.Node, path string, visit func(key string, v *yaml.Node, kpath string, k *yaml.Node), t reflect.Type) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			c.merge(v, path, t)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.add(k, path, "a key must be a plain value, found %s", kindName(k))
			continue
		}
		var key string
		if err := k.Decode(&key); err != nil {
			c.add(k, path, "a key must be text, found %q", k.Value)
			continue
		}
		kpath := join(path, key)
		if seen[key] {
			c.add(k, kpath, "given twice")
			continue
		}
		seen[key] = true
		visit(key, v, kpath, k)
	}
}

func (c *checker) merge(v *yaml.Node, path string, t reflect.Type) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		c.merge(v.Alias, path, t)
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		c.check(v, t, path)
	case yaml.SequenceNode:
		for _, item := range v.Content {
			if item.Kind == yaml.SequenceNode {
				c.add(item, path, "a merge (<<) takes mappings")
				continue
			}
			c.merge(item, path, t)
		}
	default:
		c.add(v, path, "a merge (<<) takes mappings")
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return strconv.Quote(n.Value)
	}
}

func scalarName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.String:
		return "text"
	default:
		return t.String()
	}
}

// yamlFields maps the yaml names of a struct's fields to the fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// lineOf finds the line of a path in the source, or 0.
func lineOf(n *yaml.Node, path string) int {
	if n == nil {
		return 0
	}
	line := n.Line
	if path == "" {
		return line
	}
	for seg := range strings.SplitSeq(path, ".") {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
			if next == nil {
				return line
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// Marshal writes a document in its canonical YAML form: fields in the order
// of the types, map keys sorted, two-space indentation, prompt references as
// bare names, durations as "5s".
func Marshal(doc *Doc) ([]byte, error) {
	if doc == nil {
		return nil, errors.New("flows: marshal a nil document")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("flows: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("flows: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalYAML lets a node write `prompt: welcome` for `prompt: {ref: welcome}`.
func (p *Prompt) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = Prompt{}
		return n.Decode(&p.Ref)
	}
	type plain Prompt
	return n.Decode((*plain)(p))
}

// MarshalYAML writes a bare reference as its name.
func (p Prompt) MarshalYAML() (any, error) {
	if p.Ref != "" && len(p.Text) == 0 && len(p.Media) == 0 {
		return p.Ref, nil
	}
	type plain Prompt
	return plain(p), nil
}

// UnmarshalJSON accepts a prompt name or a prompt object.
func (p *Prompt) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*p = Prompt{}
		return json.Unmarshal(b, &p.Ref)
	}
	type plain Prompt
	return json.Unmarshal(b, (*plain)(p))
}

// MarshalJSON writes a bare reference as its name.
func (p Prompt) MarshalJSON() ([]byte, error) {
	if p.Ref != "" && len(p.Text) == 0 && len(p.Media) == 0 {
		return json.Marshal(p.Ref)
	}
	type plain Prompt
	return json.Marshal(plain(p))
}

// ParseDuration reads a document duration: a Go duration such as "5s",
// "500ms" or "1m30s", which must be positive.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 5s or 500ms", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return Duration(d), nil
}

// String writes the duration as "5s", "2m" or "1m30s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML reads "5s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a duration like 5s or 500ms")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes "5s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalJSON reads "5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("expected a duration like \"5s\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes "5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }
