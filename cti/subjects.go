package cti

// Subjects are built here and nowhere else.
//
//	cc.call.<kind>.<call_id>   call events (kind: started, answered, key, digits, ended)
//	cc.call.>                  every call event
//	cc.call.*.<call_id>        every event of one call

const subjectRoot = "cc"

// CallSubject is the subject of one kind of event of one call.
func CallSubject(kind, callID string) string {
	return subjectRoot + ".call." + kind + "." + callID
}

// AllCallEvents matches every call event.
func AllCallEvents() string { return subjectRoot + ".call.>" }

// OneCallEvents matches every event of one call.
func OneCallEvents(callID string) string { return subjectRoot + ".call.*." + callID }
