package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ccd-platform/ccd/internal/config"
)

const flowUsage = `ccctl flow <command> [flags]

  list                                  flows with their published and latest versions
  versions NAME                         all versions of a flow
  show NAME [VERSION]                   a version's document (default: the published one)
  validate FILE                         check a flow document; every error with its path
  draft NAME FILE                       store FILE as a new draft version of NAME
  publish NAME VERSION                  publish a version (new calls use it; calls in progress keep theirs)
  rollback NAME                         publish the previously published version again
  bindings                              which flow answers which DID
  bind DID FLOW                         calls to DID run FLOW ("*" binds every other DID)
  unbind DID
  simulate NAME --digits "2,1,6901234567892#" [--version N] [--at TIME] [--caller N] [--did N]
                                        run a flow with scripted keys and print the transcript

API flags (every command): --config /var/lib/ccd/ccd.yaml (for the address and api.token), --api URL, --token T, --author NAME`

// apiClient talks to ccd's admin API.
type apiClient struct {
	base, token, author string
}

func apiFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	cfgPath := fs.String("config", "/var/lib/ccd/ccd.yaml", "ccd configuration (API address and token)")
	base := fs.String("api", "", "API base URL (default: from the configuration's http.listen)")
	token := fs.String("token", "", "API token (default: the configuration's api.token)")
	author := fs.String("author", os.Getenv("USER"), "who makes the change (recorded with flow versions)")
	return func() (*apiClient, error) {
		c := &apiClient{base: *base, token: *token, author: *author}
		if c.base == "" || c.token == "" {
			cfg, err := config.Load(*cfgPath, nil)
			if err != nil {
				return nil, fmt.Errorf("%w (or pass --api and --token)", err)
			}
			if c.base == "" {
				c.base = "http://" + cfg.HTTP.Listen
			}
			if c.token == "" {
				c.token = cfg.API.Token
			}
		}
		return c, nil
	}
}

// do sends a request; a non-2xx answer becomes an error listing the problems.
func (c *apiClient) do(method, path string, body io.Reader, contentType string, out any) error {
	_, err := c.doStatus(method, path, body, contentType, out)
	return err
}

// doStatus is do that also returns the HTTP status of a 2xx answer.
func (c *apiClient) doStatus(method, path string, body io.Reader, contentType string, out any) (int, error) {
	req, err := http.NewRequest(method, strings.TrimRight(c.base, "/")+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if c.author != "" {
		req.Header.Set("X-Author", c.author)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ccd API at %s: %w (is ccd running? make up)", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error    string `json:"error"`
			Problems []struct {
				Path    string `json:"path"`
				Message string `json:"message"`
			} `json:"problems"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			return 0, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
		}
		var b strings.Builder
		b.WriteString(e.Error)
		for _, p := range e.Problems {
			fmt.Fprintf(&b, "\n  %s: %s", p.Path, p.Message)
		}
		return 0, fmt.Errorf("%s", b.String())
	}
	if out != nil && len(data) > 0 {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

func runFlow(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(stdout, flowUsage)
		if len(args) == 0 {
			return usageError("missing flow command")
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("flow "+sub, "(see ccctl flow help)")
	client := apiFlags(fs)
	var simDigits, simAt, simCaller, simDID string
	var simVersion int
	if sub == "simulate" {
		fs.StringVar(&simDigits, "digits", "", `keys the caller types, one group per prompt: "2,1,6901234567892#" (an empty group is a time-out)`)
		fs.IntVar(&simVersion, "version", 0, "version to run (default: the published one)")
		fs.StringVar(&simAt, "at", "", "the time the call happens, RFC 3339 (business hours); default now")
		fs.StringVar(&simCaller, "caller", "13800138000", "caller number")
		fs.StringVar(&simDID, "did", "4006001000", "dialled number")
	}
	// Flags may follow the positional arguments.
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return usageError(err.Error())
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	need := func(n int, what string) error {
		if len(pos) != n {
			return usagef("ccctl flow %s %s", sub, what)
		}
		return nil
	}
	c, err := client()
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if err := need(0, ""); err != nil {
			return err
		}
		var out struct {
			Flows []struct {
				Name      string `json:"name"`
				Published *int   `json:"published_version"`
				Latest    int    `json:"latest_version"`
			} `json:"flows"`
		}
		if err := c.do(http.MethodGet, "/api/v1/flows", nil, "", &out); err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "FLOW\tPUBLISHED\tLATEST")
		for _, f := range out.Flows {
			pub := "-"
			if f.Published != nil {
				pub = strconv.Itoa(*f.Published)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\n", f.Name, pub, f.Latest)
		}
		return w.Flush()
	case "versions":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		var out struct {
			Versions []struct {
				Version     int        `json:"version"`
				State       string     `json:"state"`
				CreatedAt   time.Time  `json:"created_at"`
				CreatedBy   string     `json:"created_by"`
				PublishedAt *time.Time `json:"published_at"`
				PublishedBy string     `json:"published_by"`
			} `json:"versions"`
		}
		if err := c.do(http.MethodGet, "/api/v1/flows/"+url.PathEscape(pos[0]), nil, "", &out); err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tSTATE\tCREATED\tBY\tPUBLISHED\tBY")
		for _, v := range out.Versions {
			pub := "-"
			if v.PublishedAt != nil {
				pub = v.PublishedAt.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.State, v.CreatedAt.Local().Format("2006-01-02 15:04"), v.CreatedBy, pub, v.PublishedBy)
		}
		return w.Flush()
	case "show":
		if len(pos) < 1 || len(pos) > 2 {
			return usagef("ccctl flow show NAME [VERSION]")
		}
		path := "/api/v1/flows/" + url.PathEscape(pos[0])
		if len(pos) == 2 {
			path += "/versions/" + url.PathEscape(pos[1])
		} else {
			path += "/versions/published"
		}
		var out struct {
			Source string `json:"source"`
		}
		if err := c.do(http.MethodGet, path, nil, "", &out); err != nil {
			return err
		}
		fmt.Fprint(stdout, out.Source)
		return nil
	case "validate":
		if err := need(1, "FILE"); err != nil {
			return err
		}
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		if err := c.do(http.MethodPost, "/api/v1/flows/validate", bytes.NewReader(data), "application/yaml", nil); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "%s: valid\n", pos[0])
		return nil
	case "draft":
		if err := need(2, "NAME FILE"); err != nil {
			return err
		}
		data, err := os.ReadFile(pos[1])
		if err != nil {
			return err
		}
		var out struct {
			Version int `json:"version"`
		}
		if err := c.do(http.MethodPost, "/api/v1/flows/"+url.PathEscape(pos[0])+"/drafts", bytes.NewReader(data), "application/yaml", &out); err != nil {
			return fmt.Errorf("%s: %w", pos[1], err)
		}
		fmt.Fprintf(stdout, "%s: draft version %d stored; publish it with: ccctl flow publish %s %d\n", pos[0], out.Version, pos[0], out.Version)
		return nil
	case "publish":
		if err := need(2, "NAME VERSION"); err != nil {
			return err
		}
		if err := c.do(http.MethodPost, "/api/v1/flows/"+url.PathEscape(pos[0])+"/versions/"+url.PathEscape(pos[1])+"/publish", nil, "", nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: version %s published; new calls use it\n", pos[0], pos[1])
		return nil
	case "rollback":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		var out struct {
			Version int `json:"version"`
		}
		if err := c.do(http.MethodPost, "/api/v1/flows/"+url.PathEscape(pos[0])+"/rollback", nil, "", &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: rolled back; version %d published\n", pos[0], out.Version)
		return nil
	case "bindings":
		var out struct {
			Bindings []struct {
				DID       string    `json:"did"`
				Flow      string    `json:"flow"`
				UpdatedAt time.Time `json:"updated_at"`
				UpdatedBy string    `json:"updated_by"`
			} `json:"bindings"`
		}
		if err := c.do(http.MethodGet, "/api/v1/bindings", nil, "", &out); err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "DID\tFLOW\tUPDATED\tBY")
		for _, b := range out.Bindings {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", b.DID, b.Flow, b.UpdatedAt.Local().Format("2006-01-02 15:04"), b.UpdatedBy)
		}
		return w.Flush()
	case "bind":
		if err := need(2, "DID FLOW"); err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"flow": pos[1]})
		if err := c.do(http.MethodPut, "/api/v1/bindings/"+url.PathEscape(pos[0]), bytes.NewReader(body), "application/json", nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "calls to %s run flow %s\n", pos[0], pos[1])
		return nil
	case "unbind":
		if err := need(1, "DID"); err != nil {
			return err
		}
		return c.do(http.MethodDelete, "/api/v1/bindings/"+url.PathEscape(pos[0]), nil, "", nil)
	case "simulate":
		if err := need(1, "NAME --digits KEYS"); err != nil {
			return err
		}
		req := map[string]any{"version": simVersion, "digits": simDigits, "caller": simCaller, "did": simDID}
		if simAt != "" {
			at, err := time.Parse(time.RFC3339, simAt)
			if err != nil {
				return usagef("--at %q is not an RFC 3339 time like 2026-11-20T10:00:00+08:00", simAt)
			}
			req["at"] = at
		}
		body, _ := json.Marshal(req)
		var out struct {
			Transcript string `json:"transcript"`
		}
		if err := c.do(http.MethodPost, "/api/v1/flows/"+url.PathEscape(pos[0])+"/simulate", bytes.NewReader(body), "application/json", &out); err != nil {
			return err
		}
		fmt.Fprint(stdout, out.Transcript)
		return nil
	}
	return usagef("unknown flow command %q (ccctl flow help)", sub)
}
