package cti

import (
	"fmt"
	"strings"
)

// Subjects are built here and nowhere else.
//
// Events: what happened. Published once, fire and forget; the payload is an
// Envelope whose type and version name the payload's schema (a changed
// payload gets a new version beside the old one).
//
//	cc.call.<kind>.<call_id>   call events (kind: started, answered, key, digits, ivr,
//	                           held, resumed, consult, transferred, conferenced, ended)
//	cc.call.>                  every call event
//	cc.call.*.<call_id>        every event of one call
//	cc.agent.<kind>.<agent>    agent events (kind: state); the agent's stream
//	cc.agent.*.<agent>         one agent's stream: every event carries seq,
//	                           1 more than the previous one of the same agent
//	cc.queue.<kind>.<queue>.<call_id>
//	                           queue events (kind: joined, offered, offer_ended,
//	                           connected, left, callback)
//	cc.queue.stats.<queue>.all  a queue's figures (waiting, staffed, available,
//	                           longest wait), when they change
//	cc.acd.assign.<instance>   ACD assignments for the ccd instance holding the call
//	cc.acd.control.<instance>  call control forwarded to the instance running the call
//
// Commands: what a desktop asks for. NATS request/reply; the request body is
// the command's JSON request, the reply {"data": response} or
// {"error": {"code", "message"}}; headers Ccd-User, Ccd-Role and Ccd-Agent
// carry the acting user (see Identity).
//
//	cc.cmd.v1.<command>.<agent>   one command on one agent (command: login,
//	                              logout, ready, pause, answer, hangup, hold,
//	                              resume, blind_transfer, consult_transfer,
//	                              complete_transfer, conference, wrap_up_done,
//	                              snapshot)
//	cc.cmd.v1.>                   every v1 command (what the server subscribes to)
//	cc.cmd.v1.*.<agent>           every command on one agent
//
// The version is a subject token so that v2 can be served beside v1 while
// desktops move over. The target agent is the last token, after the command
// as in the event subjects: it names what is acted on in the address itself,
// so the server authorizes before decoding the body, an operator can watch
// one agent with `nats sub 'cc.cmd.v1.*.1001'`, and NATS permissions could
// one day confine a connection to its own agent's subjects. Agent, call and
// queue ids are therefore subject tokens: no '.', '*', '>' or spaces.

const subjectRoot = "cc"

// CommandVersion is the version token of the command subjects.
const CommandVersion = "v1"

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

// OneAgentEvents matches one agent's stream: every event of one agent.
func OneAgentEvents(agent string) string { return subjectRoot + ".agent.*." + agent }

// QueueSubject is the subject of one kind of event of a call in a queue.
func QueueSubject(kind, queue, callID string) string {
	return subjectRoot + ".queue." + kind + "." + queue + "." + callID
}

// AllQueueEvents matches every queue event.
func AllQueueEvents() string { return subjectRoot + ".queue.>" }

// AssignSubject carries the ACD's assignments to the ccd instance that holds
// the caller's channel.
func AssignSubject(instance string) string { return subjectRoot + ".acd.assign." + instance }

// ControlSubject carries call-control commands to the ccd instance that
// runs the call (request/reply), from the instance that took the command.
func ControlSubject(instance string) string { return subjectRoot + ".acd.control." + instance }

const commandPrefix = subjectRoot + ".cmd." + CommandVersion + "."

// CommandSubject is the subject of one command on one agent.
func CommandSubject(cmd Command, agent AgentID) string {
	return commandPrefix + string(cmd) + "." + string(agent)
}

// AllCommands matches every command of this version.
func AllCommands() string { return commandPrefix + ">" }

// OneAgentCommands matches every command on one agent.
func OneAgentCommands(agent AgentID) string { return commandPrefix + "*." + string(agent) }

// ParseCommandSubject splits a command subject into its command and agent.
// An unknown command or a malformed subject is ErrInvalid.
func ParseCommandSubject(subject string) (Command, AgentID, error) {
	rest, ok := strings.CutPrefix(subject, commandPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not a %s command subject", ErrInvalid, subject, CommandVersion)
	}
	cmd, agent, ok := strings.Cut(rest, ".")
	if !ok || !validToken(agent) {
		return "", "", fmt.Errorf("%w: subject %q: want %s<command>.<agent>", ErrInvalid, subject, commandPrefix)
	}
	if !Command(cmd).Valid() {
		return "", "", fmt.Errorf("%w: unknown command %q", ErrInvalid, cmd)
	}
	return Command(cmd), AgentID(agent), nil
}

// DeskSubject is the subject of a desktop event for one agent and call:
// cc.desk.<kind>.<agent>.<call_id>.
func DeskSubject(kind, agent, callID string) string {
	return subjectRoot + ".desk." + kind + "." + agent + "." + callID
}

// AllDeskEvents matches every desktop event.
func AllDeskEvents() string { return subjectRoot + ".desk.>" }
