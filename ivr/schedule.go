package ivr

import (
	"fmt"
	"strings"
	"time"

	"github.com/ccd-platform/ccd/flows"
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// IsOpen tells whether a schedule node is open at now, and why.
func IsOpen(n *flows.Node, now time.Time) (bool, string, error) {
	loc := time.UTC
	if n.Timezone != "" {
		l, err := time.LoadLocation(n.Timezone)
		if err != nil {
			return false, "", fmt.Errorf("timezone %q: %w", n.Timezone, err)
		}
		loc = l
	}
	local := now.In(loc)
	day := local.Format("2006-01-02")
	for _, h := range n.Holidays {
		if h == day {
			return false, "holiday " + day, nil
		}
	}
	minutes := local.Hour()*60 + local.Minute()
	for _, w := range n.Open {
		match := false
		for _, d := range w.Days {
			if wd, ok := weekdays[strings.ToLower(d)]; ok && wd == local.Weekday() {
				match = true
			}
		}
		if !match {
			continue
		}
		from, err := hhmm(w.From)
		if err != nil {
			return false, "", err
		}
		to, err := hhmm(w.To)
		if err != nil {
			return false, "", err
		}
		if minutes >= from && minutes < to {
			return true, fmt.Sprintf("open %s %s-%s", local.Format("Mon 15:04"), w.From, w.To), nil
		}
	}
	return false, "closed " + local.Format("Mon 15:04 MST"), nil
}

func hhmm(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}
