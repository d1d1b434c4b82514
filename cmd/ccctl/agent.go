package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

const agentUsage = `ccctl agent <command> [flags]

  list              agents with their device, team, rank and skills
  show ID           an agent's configuration as YAML (edit it and put it back)
  put FILE          create or replace the agents in FILE: YAML or JSON, one agent or a list
                    (fields of acd.AgentConfig; sample: acd/samples/agents.yaml)
  delete ID
  login ID          bring the agent into routing
  logout ID
  ready ID          make the agent available (after a pause or a log-in)
  pause ID REASON   pause the agent with a reason code (ccctl pause-reason list)
  state ID          the agent's live state

` + acdFlagsUsage

func runAgent(args []string) error { return runACD("agent", agentUsage, agentCommands, args) }

var agentCommands = map[string]acdSub{
	"list": {"", func(c *apiClient, asJSON bool, _ []string) error {
		var out struct {
			Agents []acd.AgentConfig `json:"agents"`
		}
		if printed, err := getJSON(c, "/api/v1/agents", asJSON, &out); printed || err != nil {
			return err
		}
		w := newTable()
		fmt.Fprintln(w, "AGENT\tNAME\tTEAM\tDEVICE\tRANK\tSKILLS")
		for _, a := range out.Agents {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", a.ID, orDash(a.Name), orDash(a.Team), orDash(a.Device), a.Rank, skillLevels(a.Skills))
		}
		return w.Flush()
	}},
	"show": {"ID", func(c *apiClient, asJSON bool, pos []string) error {
		var a acd.AgentConfig
		if printed, err := getJSON(c, "/api/v1/agents/"+url.PathEscape(pos[0]), asJSON, &a); printed || err != nil {
			return err
		}
		return printYAML(a)
	}},
	"put": {"FILE", func(c *apiClient, asJSON bool, pos []string) error {
		as, err := readItems[acd.AgentConfig](pos[0])
		if err != nil {
			return err
		}
		return putItems(c, asJSON, "agent", "/api/v1/agents", pos[0], as,
			func(a acd.AgentConfig) string { return string(a.ID) },
			func(a acd.AgentConfig) error { return a.Validate() })
	}},
	"delete": {"ID", func(c *apiClient, _ bool, pos []string) error {
		return deleteItem(c, "agent", "/api/v1/agents", pos[0])
	}},
	"login":  {"ID", agentAction("login")},
	"logout": {"ID", agentAction("logout")},
	"ready":  {"ID", agentAction("ready")},
	"pause":  {"ID REASON", agentAction("pause")},
	"state": {"ID", func(c *apiClient, asJSON bool, pos []string) error {
		var st agentState
		if printed, err := getJSON(c, "/api/v1/agents/"+url.PathEscape(pos[0])+"/state", asJSON, &st); printed || err != nil {
			return err
		}
		return printAgentState(st)
	}},
}

// agentState is the API's view of an agent's live state.
type agentState struct {
	Agent         string            `json:"agent"`
	State         string            `json:"state"`
	Since         *time.Time        `json:"since"`
	Reason        string            `json:"reason"`
	Call          string            `json:"call_id"`
	IdleSince     *time.Time        `json:"idle_since"`
	WrapUntil     *time.Time        `json:"wrap_until"`
	AnsweredToday int               `json:"answered_today"`
	Misses        int               `json:"misses"`
	Rank          int               `json:"rank"`
	Skills        map[acd.Skill]int `json:"skills"`
}

// stateLine is "paused (lunch) since 2026-03-02 16:00:00".
func (s agentState) stateLine() string {
	line := s.State
	if s.Reason != "" {
		line += " (" + s.Reason + ")"
	}
	if s.Since != nil {
		line += " since " + s.Since.Local().Format("2006-01-02 15:04:05")
	}
	return line
}

// agentAction posts a state change and prints the state it led to.
func agentAction(action string) func(c *apiClient, asJSON bool, pos []string) error {
	return func(c *apiClient, asJSON bool, pos []string) error {
		var body *bytes.Reader
		if action == "pause" {
			data, _ := json.Marshal(map[string]string{"reason": pos[1]})
			body = bytes.NewReader(data)
		} else {
			body = bytes.NewReader(nil)
		}
		var raw json.RawMessage
		if err := c.do(http.MethodPost, "/api/v1/agents/"+url.PathEscape(pos[0])+"/"+action, body, "application/json", &raw); err != nil {
			return err
		}
		if asJSON {
			printRaw(raw)
			return nil
		}
		var st agentState
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent %s: %s\n", pos[0], st.stateLine())
		return nil
	}
}

func printAgentState(s agentState) error {
	w := newTable()
	fmt.Fprintf(w, "agent:\t%s\n", s.Agent)
	fmt.Fprintf(w, "state:\t%s\n", s.stateLine())
	if s.Call != "" {
		fmt.Fprintf(w, "call:\t%s\n", s.Call)
	}
	if s.WrapUntil != nil {
		fmt.Fprintf(w, "wrap-up until:\t%s\n", s.WrapUntil.Local().Format("15:04:05"))
	}
	if s.IdleSince != nil && s.State == string(acd.Available) {
		fmt.Fprintf(w, "idle since:\t%s\n", s.IdleSince.Local().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(w, "answered today:\t%d\n", s.AnsweredToday)
	fmt.Fprintf(w, "missed in a row:\t%d\n", s.Misses)
	fmt.Fprintf(w, "rank:\t%s\n", strconv.Itoa(s.Rank))
	fmt.Fprintf(w, "skills:\t%s\n", skillLevels(s.Skills))
	return w.Flush()
}
