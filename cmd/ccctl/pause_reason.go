package main

import (
	"fmt"

	"github.com/ccd-platform/ccd/acd"
)

const pauseReasonUsage = `ccctl pause-reason <command> [flags]

  list          the reason codes agents pause with; productive ones count as working time
  put FILE      create or replace the reasons in FILE: YAML or JSON, one reason or a list
                (code, label, productive)
  delete CODE   missed_offers, which the ACD sets itself, cannot be deleted

` + acdFlagsUsage

func runPauseReason(args []string) error {
	return runACD("pause-reason", pauseReasonUsage, pauseReasonCommands, args)
}

var pauseReasonCommands = map[string]acdSub{
	"list": {"", func(c *apiClient, asJSON bool, _ []string) error {
		var out struct {
			PauseReasons []acd.PauseReason `json:"pause_reasons"`
		}
		if printed, err := getJSON(c, "/api/v1/pause-reasons", asJSON, &out); printed || err != nil {
			return err
		}
		w := newTable()
		fmt.Fprintln(w, "CODE\tLABEL\tPRODUCTIVE")
		for _, p := range out.PauseReasons {
			prod := "no"
			if p.Productive {
				prod = "yes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", p.Code, p.Label, prod)
		}
		return w.Flush()
	}},
	"put": {"FILE", func(c *apiClient, asJSON bool, pos []string) error {
		ps, err := readItems[acd.PauseReason](pos[0])
		if err != nil {
			return err
		}
		return putItems(c, asJSON, "pause reason", "/api/v1/pause-reasons", pos[0], ps,
			func(p acd.PauseReason) string { return p.Code },
			func(p acd.PauseReason) error { return p.Validate() })
	}},
	"delete": {"CODE", func(c *apiClient, _ bool, pos []string) error {
		return deleteItem(c, "pause reason", "/api/v1/pause-reasons", pos[0])
	}},
}
