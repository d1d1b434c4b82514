package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/trace"
)

// seed gives a new stack something to answer with: a sample trace catalog and
// the sample hotline flow, published and bound to the hotline DID. Existing
// data is left alone.
func seed(ctx context.Context, o Options, dsn, token string, say func(string, ...any)) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM trace_records`).Scan(&n); err != nil {
		return fmt.Errorf("trace catalog: %w", err)
	}
	if n == 0 {
		recs := trace.Generate(200, 1)
		if err := trace.NewPGCatalog(pool).Upsert(ctx, recs...); err != nil {
			return fmt.Errorf("load the sample trace catalog: %w", err)
		}
		say("Trace catalog loaded %d sample records (code %s is pork)", len(recs), trace.SampleCode)
	}

	api := func(method, path string, body []byte, out any) (int, error) {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+o.HTTPListen+path, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Author", "make up")
		resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
			return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
		}
		if out != nil && len(data) > 0 {
			_ = json.Unmarshal(data, out)
		}
		return resp.StatusCode, nil
	}
	// The ACD's sample queues and agents, before the flow that queues callers.
	var queues struct {
		Queues []json.RawMessage `json:"queues"`
	}
	if _, err := api(http.MethodGet, "/api/v1/queues", nil, &queues); err != nil {
		return err
	}
	if len(queues.Queues) == 0 {
		qs, err := acd.SampleQueues()
		if err != nil {
			return err
		}
		for _, q := range qs {
			body, _ := json.Marshal(q)
			if _, err := api(http.MethodPut, "/api/v1/queues/"+string(q.ID), body, nil); err != nil {
				return err
			}
		}
		as, err := acd.SampleAgents()
		if err != nil {
			return err
		}
		for _, a := range as {
			body, _ := json.Marshal(a)
			if _, err := api(http.MethodPut, "/api/v1/agents/"+string(a.ID), body, nil); err != nil {
				return err
			}
		}
		say("ACD         %d sample queues and %d agents (acd/samples); log agents in with ccctl agent login 1001", len(qs), len(as))
	}
	// Desktop users: an admin, a team leader and the agents 1001 and 1003,
	// with generated passwords kept in the state directory.
	for _, u := range DemoUsers {
		code, err := api(http.MethodGet, "/api/v1/users/"+u.Username, nil, nil)
		if err != nil {
			return err
		}
		pw, err := secret(o.path("desk-" + u.Username + ".password"))
		if err != nil {
			return err
		}
		if code != http.StatusNotFound {
			continue
		}
		body, _ := json.Marshal(map[string]any{"username": u.Username, "display_name": u.Name, "role": u.Role,
			"agent_id": u.Agent, "password": pw[:16]})
		if _, err := api(http.MethodPut, "/api/v1/users/"+u.Username, body, nil); err != nil {
			return err
		}
		say("Desk user   %s (%s) created", u.Username, u.Role)
	}
	// A known customer, so the demo call's screen pop shows a VIP profile.
	var found struct {
		Customers []json.RawMessage `json:"customers"`
	}
	if code, err := api(http.MethodGet, "/api/v1/customers?phone="+DemoCaller, nil, &found); err != nil {
		return err
	} else if code == http.StatusOK && len(found.Customers) == 0 {
		body, _ := json.Marshal(map[string]any{"name": "王建国", "level": "vip", "company": "鲜丰超市",
			"phones": []string{DemoCaller}, "notes": "Buys chilled pork for three stores; prefers Mandarin."})
		if code, err := api(http.MethodPost, "/api/v1/customers", body, nil); err != nil {
			return err
		} else if code != http.StatusCreated {
			return fmt.Errorf("demo customer: HTTP %d", code)
		}
		say("Customer    王建国 (VIP) on %s, the demo caller", DemoCaller)
	}
	for _, f := range []struct {
		name, did, file string
		src             []byte
	}{
		{"hotline", HotlineDID, "flows/samples/hotline.yaml", flows.SampleHotline()},
		{"agents", AgentLineDID, "flows/samples/agents.yaml", flows.SampleAgentLine()},
	} {
		code, err := api(http.MethodGet, "/api/v1/flows/"+f.name, nil, nil)
		if err != nil {
			return err
		}
		if code != http.StatusNotFound {
			continue
		}
		var v struct {
			Version int `json:"version"`
		}
		if _, err := api(http.MethodPost, "/api/v1/flows/"+f.name+"/drafts", f.src, &v); err != nil {
			return err
		}
		// Publishing renders the flow's prompts with text-to-speech.
		if _, err := api(http.MethodPost, fmt.Sprintf("/api/v1/flows/%s/versions/%d/publish", f.name, v.Version), nil, nil); err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"flow": f.name})
		if _, err := api(http.MethodPut, "/api/v1/bindings/"+f.did, body, nil); err != nil {
			return err
		}
		say("Flow        %s version %d published and bound to %s (%s)", f.name, v.Version, f.did, f.file)
	}
	return nil
}
