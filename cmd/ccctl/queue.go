package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

const queueUsage = `ccctl queue <command> [flags]

  list          queues with their skills, expansion, overflow and settings
  show ID       a queue's configuration as YAML (edit it and put it back)
  put FILE      create or replace the queues in FILE: YAML or JSON, one queue or a list
                (fields of acd.QueueConfig; sample: acd/samples/queues.yaml)
  delete ID     refused while another queue overflows to it
  stats ID      waiting calls, staffed and available agents, mean handle time

` + acdFlagsUsage

func runQueue(args []string) error { return runACD("queue", queueUsage, queueCommands, args) }

var queueCommands = map[string]acdSub{
	"list": {"", func(c *apiClient, asJSON bool, _ []string) error {
		var out struct {
			Queues []acd.QueueConfig `json:"queues"`
		}
		if printed, err := getJSON(c, "/api/v1/queues", asJSON, &out); printed || err != nil {
			return err
		}
		w := newTable()
		fmt.Fprintln(w, "QUEUE\tNAME\tSTRATEGY\tSKILLS\tEXPANSION\tMAX WAIT\tOVERFLOW\tANNOUNCE\tCALLBACK\tLAST AGENT")
		for _, q := range out.Queues {
			exp := "-"
			for i, st := range q.Expansion {
				if i == 0 {
					exp = ""
				} else {
					exp += ", "
				}
				exp += fmt.Sprintf("%s: %s", seconds(st.After), requirements(st.Skills))
			}
			cb, last := "no", "-"
			if q.CallbackAllowed {
				cb = "yes"
			}
			if q.LastAgentDays > 0 {
				last = fmt.Sprintf("%dd, wait %s", q.LastAgentDays, seconds(q.LastAgentWait))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", q.ID, orDash(q.Name), q.Strategy, requirements(q.Skills),
				exp, seconds(q.MaxWait), orDash(q.Overflow), seconds(q.AnnounceEvery), cb, last)
		}
		return w.Flush()
	}},
	"show": {"ID", func(c *apiClient, asJSON bool, pos []string) error {
		var q acd.QueueConfig
		if printed, err := getJSON(c, "/api/v1/queues/"+url.PathEscape(pos[0]), asJSON, &q); printed || err != nil {
			return err
		}
		return printYAML(q)
	}},
	"put": {"FILE", func(c *apiClient, asJSON bool, pos []string) error {
		qs, err := readItems[acd.QueueConfig](pos[0])
		if err != nil {
			return err
		}
		return putItems(c, asJSON, "queue", "/api/v1/queues", pos[0], overflowTargetsFirst(qs),
			func(q acd.QueueConfig) string { return string(q.ID) },
			func(q acd.QueueConfig) error { q.Defaults(); return q.Validate() })
	}},
	"delete": {"ID", func(c *apiClient, _ bool, pos []string) error {
		return deleteItem(c, "queue", "/api/v1/queues", pos[0])
	}},
	"stats": {"ID", func(c *apiClient, asJSON bool, pos []string) error {
		var st struct {
			Queue      string  `json:"queue"`
			Waiting    int     `json:"waiting"`
			Staffed    int     `json:"staffed"`
			Available  int     `json:"available"`
			AvgHandleS float64 `json:"avg_handle_s"`
			Handled    int     `json:"handled"`
		}
		if printed, err := getJSON(c, "/api/v1/queues/"+url.PathEscape(pos[0])+"/stats", asJSON, &st); printed || err != nil {
			return err
		}
		handle := "-"
		if st.Handled > 0 {
			handle = fmt.Sprintf("%s (last %d calls)", time.Duration(st.AvgHandleS*float64(time.Second)).Round(time.Second), st.Handled)
		}
		w := newTable()
		fmt.Fprintf(w, "queue:\t%s\nwaiting:\t%d\nstaffed:\t%d\navailable:\t%d\nmean handle:\t%s\n",
			st.Queue, st.Waiting, st.Staffed, st.Available, handle)
		return w.Flush()
	}},
}

// overflowTargetsFirst orders queues so that a queue overflowing to another
// one of the same file comes after it (the API refuses an overflow to a
// queue that does not exist yet). A cycle keeps file order; the API refuses it.
func overflowTargetsFirst(qs []acd.QueueConfig) []acd.QueueConfig {
	out := make([]acd.QueueConfig, 0, len(qs))
	done := make([]bool, len(qs))
	waits := func(q acd.QueueConfig) bool {
		kind, target, _ := acd.ParseOverflow(q.Overflow)
		if kind != acd.OverflowQueue {
			return false
		}
		for j, other := range qs {
			if !done[j] && other.ID == acd.QueueID(target) && other.ID != q.ID {
				return true
			}
		}
		return false
	}
	for len(out) < len(qs) {
		progress := false
		for i, q := range qs {
			if !done[i] && !waits(q) {
				out, done[i], progress = append(out, q), true, true
			}
		}
		if !progress {
			for i, q := range qs {
				if !done[i] {
					out = append(out, q)
				}
			}
			break
		}
	}
	return out
}
