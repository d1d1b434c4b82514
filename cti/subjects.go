package cti

// Subjects are built here and nowhere else.
//
//	cc.call.<kind>.<call_id>   call events (kind: started, answered, key, digits, ended)
//	cc.call.>                  every call event
//	cc.call.*.<call_id>        every event of one call
//	cc.agent.<kind>.<agent>    agent events (kind: state)
//	cc.queue.<kind>.<queue>.<call_id>
//	                           queue events (kind: joined, offered, offer_ended,
//	                           connected, left, callback)
//	cc.acd.assign.<instance>   ACD assignments for the ccd instance holding the call

const subjectRoot = "cc"

// CallSubject is the subject of one kind of event of one call.
func CallSubject(kind, callID string) string {
	return subjectRoot + ".call." + kind + "." + callID
}

// AllCallEvents matches every call event.
func AllCallEvents() string { return subjectRoot + ".call.>" }

// OneCallEvents matches every event of one call.
func OneCallEvents(callID string) string { return subjectRoot + ".call.*." + callID }

// AgentSubject is the subject of one kind of event of one agent.
func AgentSubject(kind, agent string) string {
	return subjectRoot + ".agent." + kind + "." + agent
}

// AllAgentEvents matches every agent event.
func AllAgentEvents() string { return subjectRoot + ".agent.>" }

// QueueSubject is the subject of one kind of event of a call in a queue.
func QueueSubject(kind, queue, callID string) string {
	return subjectRoot + ".queue." + kind + "." + queue + "." + callID
}

// AllQueueEvents matches every queue event.
func AllQueueEvents() string { return subjectRoot + ".queue.>" }

// AssignSubject carries the ACD's assignments to the ccd instance that holds
// the caller's channel.
func AssignSubject(instance string) string { return subjectRoot + ".acd.assign." + instance }
