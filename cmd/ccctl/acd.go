package main

// Shared parts of the ACD commands (queue, agent, pause-reason): the
// subcommand runner, configuration files and output helpers.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/ccd-platform/ccd/acd"
)

const acdFlagsUsage = `Flags (every command): -json prints the API's JSON answer; --config /var/lib/ccd/ccd.yaml
(for the address and api.token), --api URL, --token T, --author NAME.`

// acdSub is one subcommand of queue, agent or pause-reason.
type acdSub struct {
	args string // positional arguments, e.g. "ID REASON"
	run  func(c *apiClient, asJSON bool, pos []string) error
}

// runACD runs subcommand args[0] of command name; flags may come before,
// between or after the positional arguments.
func runACD(name, usage string, subs map[string]acdSub, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usage)
		if len(args) == 0 {
			return usagef("missing %s command", name)
		}
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usagef("unknown %s command %q (ccctl %s help)", name, args[0], name)
	}
	fs := newFlags(name+" "+args[0], strings.TrimSpace(sub.args+" [-json]"))
	client := apiFlags(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	var pos []string
	for rest := args[1:]; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError(err.Error())
		}
		if rest = fs.Args(); len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	if len(pos) != len(strings.Fields(sub.args)) {
		return usagef("usage: ccctl %s %s %s", name, args[0], sub.args)
	}
	c, err := client()
	if err != nil {
		return err
	}
	return sub.run(c, *asJSON, pos)
}

// getJSON reads path; with asJSON it prints the answer as it came and
// reports printed, otherwise it decodes it into out.
func getJSON(c *apiClient, path string, asJSON bool, out any) (printed bool, err error) {
	var raw json.RawMessage
	if err := c.do(http.MethodGet, path, nil, "", &raw); err != nil {
		return false, err
	}
	if asJSON {
		printRaw(raw)
		return true, nil
	}
	return false, json.Unmarshal(raw, out)
}

func printRaw(raw json.RawMessage) {
	stdout.Write(bytes.TrimRight(raw, "\n"))
	fmt.Fprintln(stdout)
}

// putItems validates every item of a file before sending any, then PUTs
// them one by one to collection/{id}, stopping at the first refusal.
func putItems[T any](c *apiClient, asJSON bool, kind, collection, file string, items []T, id func(T) string, validate func(T) error) error {
	seen := map[string]bool{}
	for i, it := range items {
		if err := validate(it); err != nil {
			return fmt.Errorf("%s: %s %d: %w", file, kind, i+1, err)
		}
		if seen[id(it)] {
			return fmt.Errorf("%s: %s %s appears twice", file, kind, id(it))
		}
		seen[id(it)] = true
	}
	for _, it := range items {
		body, err := json.Marshal(it)
		if err != nil {
			return err
		}
		var raw json.RawMessage
		status, err := c.doStatus(http.MethodPut, collection+"/"+url.PathEscape(id(it)), bytes.NewReader(body), "application/json", &raw)
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", file, kind, id(it), err)
		}
		switch {
		case asJSON:
			printRaw(raw)
		case status == http.StatusCreated:
			fmt.Fprintf(stdout, "%s %s: created\n", kind, id(it))
		default:
			fmt.Fprintf(stdout, "%s %s: updated\n", kind, id(it))
		}
	}
	return nil
}

// deleteItem deletes collection/{id}.
func deleteItem(c *apiClient, kind, collection, id string) error {
	if err := c.do(http.MethodDelete, collection+"/"+url.PathEscape(id), nil, "", nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s: deleted\n", kind, id)
	return nil
}

// readItems reads the items of a configuration file: JSON (an object or a
// list of them) or YAML (a mapping, a list, or several documents of either).
// Keys the type does not have are refused, naming them.
func readItems[T any](path string) ([]T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	items, err := parseItems[T](data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no items", path)
	}
	return items, nil
}

func parseItems[T any](data []byte) ([]T, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		var items []T
		var err error
		if t[0] == '[' {
			err = dec.Decode(&items)
		} else {
			var one T
			err = dec.Decode(&one)
			items = append(items, one)
		}
		if err != nil {
			return nil, err
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("data after the JSON value")
		}
		return items, nil
	}
	// Two decoders walk the same documents: one sees each document's shape,
	// the other decodes it refusing unknown keys (a yaml.Node decodes
	// leniently), with line numbers in its errors.
	shape := yaml.NewDecoder(bytes.NewReader(data))
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var items []T
	for doc := 1; ; doc++ {
		var n yaml.Node
		if err := shape.Decode(&n); err == io.EOF {
			return items, nil
		} else if err != nil {
			return nil, err
		}
		kind := n.Kind
		if kind == yaml.DocumentNode && len(n.Content) > 0 {
			kind = n.Content[0].Kind
		}
		var err error
		switch kind {
		case yaml.SequenceNode:
			var list []T
			err = strict.Decode(&list)
			items = append(items, list...)
		case yaml.MappingNode:
			var one T
			err = strict.Decode(&one)
			items = append(items, one)
		default:
			var skip yaml.Node
			if err = strict.Decode(&skip); err == nil && !emptyDoc(&n) {
				err = fmt.Errorf("document %d is neither a mapping nor a list", doc)
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// emptyDoc tells a YAML document with nothing in it (comments, null).
func emptyDoc(n *yaml.Node) bool {
	return len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null"
}

// printYAML writes v as YAML (the form put reads back).
func printYAML(v any) error {
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

func newTable() *tabwriter.Writer { return tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0) }

// requirements formats skill requirements: "trace>=1 general>=2".
func requirements(rs []acd.Requirement) string {
	if len(rs) == 0 {
		return "-"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s>=%d", r.Skill, r.MinLevel)
	}
	return strings.Join(parts, " ")
}

// skillLevels formats an agent's skills by name: "general:2 trace:4".
func skillLevels(m map[acd.Skill]int) string {
	if len(m) == 0 {
		return "-"
	}
	names := make([]string, 0, len(m))
	for s := range m {
		names = append(names, string(s))
	}
	slices.Sort(names)
	for i, s := range names {
		names[i] = fmt.Sprintf("%s:%d", s, m[acd.Skill(s)])
	}
	return strings.Join(names, " ")
}

// seconds formats a number of seconds, "-" for zero.
func seconds(s acd.Seconds) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%gs", float64(s))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
