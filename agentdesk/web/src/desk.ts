// The desktop's live state and the reducer that applies events, API answers
// and the agent's own acts to it. Pure: no I/O, so it is unit-tested alone.
//
// Ordering: events and GET state answers may cross. Every agent state
// carries its time (the event's "at", the state's "since"); an older one
// never replaces a newer one. A gap in the agent stream's sequence numbers
// asks for the state again (resync).

import type { EventAction, QueueFigures, ScreenPop } from './events';
import type { AgentStateDoc, Customer } from './types';

export type Conn = 'connecting' | 'open' | 'reconnecting';

export interface AgentView {
  state: string;
  reason: string;
  since: string; // ISO time the state began ('' when unknown)
  callId: string;
  wrapUntil: string;
}

export type CallPhase = 'offered' | 'talking';

export interface CallView {
  callId: string;
  queue: string;
  caller: string;
  waitedMs: number;
  phase: CallPhase;
  held: boolean;
  since: string;
  /** The party the agent called (kind:id), while it rings or talks. */
  party?: PartyView;
}

export interface PartyView {
  target: string;
  state: string; // ringing, answered
  conference: boolean; // joins (or joined) the caller
  joined: boolean;
}

export interface WrapupView {
  callId: string;
  caller: string;
}

export interface DeskState {
  agentId: string;
  conn: Conn;
  agent: AgentView | null;
  call: CallView | null;
  /** Screen pops by call id (the pop may arrive before or after the offer). */
  pops: Record<string, ScreenPop>;
  /** The call waiting for its wrap-up form. */
  wrapup: WrapupView | null;
  /** Calls already wrapped up, so that a late event does not bring the form back. */
  wrapped: string[];
  /** Last sequence number of this agent's events; 0 unknown (after a reconnect). */
  lastSeq: number;
  /** Bumped when the state must be fetched again (a gap in the sequence). */
  resync: number;
  /** Set when the call's screen pop is missing (after a reconnect): the app asks for it. */
  needPop: string;
  /** The last thing that happened to a call, for a short notice: "missed", "abandoned"... */
  notice: { callId: string; kind: string } | null;
  /** The queues' live figures by queue id (queue.stats). */
  queues: Record<string, QueueFigures>;
}

export type DeskAction =
  | EventAction
  | { type: 'conn'; conn: Conn }
  | { type: 'stateLoaded'; doc: AgentStateDoc }
  | { type: 'customerCreated'; callId: string; customer: Customer }
  | { type: 'popLoaded'; pop: ScreenPop | null; callId: string }
  | { type: 'wrapupDone'; callId: string }
  | { type: 'startWrapup'; callId: string }
  | { type: 'clearNotice' };

export function initialDesk(agentId: string): DeskState {
  return {
    agentId,
    conn: 'connecting',
    agent: null,
    call: null,
    pops: {},
    wrapup: null,
    wrapped: [],
    lastSeq: 0,
    resync: 0,
    needPop: '',
    notice: null,
    queues: {},
  };
}

const MAX_POPS = 8;
const MAX_WRAPPED = 32;

function time(s: string): number {
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

/** newer reports whether a state dated at may replace the current one. */
function newer(cur: AgentView | null, at: string): boolean {
  if (!cur || !cur.since || !at) return true;
  return time(at) >= time(cur.since);
}

function keepPops(pops: Record<string, ScreenPop>, keep: string[]): Record<string, ScreenPop> {
  const ids = Object.keys(pops);
  if (ids.length <= MAX_POPS) return pops;
  const out: Record<string, ScreenPop> = {};
  for (const id of ids.slice(-MAX_POPS)) out[id] = pops[id];
  for (const id of keep) if (pops[id]) out[id] = pops[id];
  return out;
}

function callerOf(s: DeskState, callId: string): string {
  return s.pops[callId]?.caller || (s.call?.callId === callId ? s.call.caller : '');
}

/** endCall ends the current call: a call that was talking goes to wrap-up. */
function endCall(s: DeskState, callId: string, kind: string): DeskState {
  const c = s.call;
  if (!c || (callId && c.callId !== callId)) return s;
  let next: DeskState = { ...s, call: null, needPop: s.needPop === c.callId ? '' : s.needPop };
  if (c.phase === 'talking') next = startWrapup(next, c.callId, c.caller);
  else next.notice = { callId: c.callId, kind: kind || 'ended' };
  return next;
}

function startWrapup(s: DeskState, callId: string, caller = ''): DeskState {
  if (!callId || s.wrapped.includes(callId) || s.wrapup?.callId === callId) return s;
  return { ...s, wrapup: { callId, caller: caller || callerOf(s, callId) } };
}

function ensureCall(s: DeskState, callId: string, phase: CallPhase, at: string, patch: Partial<CallView> = {}): DeskState {
  if (!callId) return s;
  const cur = s.call && s.call.callId === callId ? s.call : null;
  if (cur && cur.phase === 'talking' && phase === 'offered') return s; // a late offer event
  const pop = s.pops[callId];
  const call: CallView = {
    callId,
    queue: patch.queue || cur?.queue || pop?.queue || '',
    caller: patch.caller || cur?.caller || pop?.caller || '',
    waitedMs: patch.waitedMs ?? cur?.waitedMs ?? pop?.waitedMs ?? 0,
    phase,
    held: cur?.held ?? false,
    since: cur && cur.phase === phase ? cur.since : at,
  };
  let next: DeskState = s;
  // Another call was on screen: it is over for this agent.
  if (s.call && s.call.callId !== callId) next = endCall(next, s.call.callId, 'ended');
  return { ...next, call };
}

function applyAgentState(s: DeskState, to: string, reason: string, callId: string, at: string): DeskState {
  const agent: AgentView = { state: to, reason, since: at, callId, wrapUntil: '' };
  let next: DeskState = { ...s, agent };
  switch (to) {
    case 'reserved':
      if (callId) next = ensureCall(next, callId, 'offered', at);
      break;
    case 'on_call':
      if (callId) next = ensureCall(next, callId, 'talking', at);
      break;
    case 'wrap_up':
      if (next.call && next.call.phase === 'talking') next = endCall(next, next.call.callId, 'ended');
      next = startWrapup(next, callId);
      break;
    default: // available, paused, logged_out: no call any more
      if (next.call) next = endCall(next, next.call.callId, s.agent?.state === 'reserved' ? 'missed' : 'ended');
  }
  return next;
}

export function deskReducer(s: DeskState, a: DeskAction): DeskState {
  switch (a.type) {
    case 'conn':
      // After a reconnect the sequence starts again from whatever the server sends.
      return { ...s, conn: a.conn, lastSeq: a.conn === 'open' ? 0 : s.lastSeq };

    case 'stateLoaded': {
      const d = a.doc;
      if (d.agent && d.agent !== s.agentId) return s;
      if (!newer(s.agent, d.since ?? '')) return s;
      let next = applyAgentState(s, d.state, d.reason ?? '', d.call_id ?? '', d.since ?? '');
      if (next.agent) next = { ...next, agent: { ...next.agent, wrapUntil: d.wrap_until ?? '' } };
      // A call found only now (the stream was down when it was offered) has no screen pop yet.
      if (next.call && !next.pops[next.call.callId]) next = { ...next, needPop: next.call.callId };
      return next;
    }

    case 'agentState': {
      if (a.agent !== s.agentId) return s;
      let next = s;
      if (a.seq !== undefined) {
        if (s.lastSeq > 0 && a.seq <= s.lastSeq) return s; // seen already
        const gap = s.lastSeq > 0 && a.seq > s.lastSeq + 1;
        next = { ...next, lastSeq: a.seq, resync: gap ? s.resync + 1 : s.resync };
      }
      if (!newer(next.agent, a.at)) return next;
      return applyAgentState(next, a.to, a.reason, a.callId, a.at);
    }

    case 'offered':
      if (a.agent && a.agent !== s.agentId) return s;
      return ensureCall(s, a.callId, 'offered', a.at, { queue: a.queue, caller: a.caller, waitedMs: a.waitedMs });

    case 'connected':
      if (a.agent && a.agent !== s.agentId) return s;
      return ensureCall(s, a.callId, 'talking', a.at, { queue: a.queue, waitedMs: a.waitedMs });

    case 'offerEnded':
      if (a.agent && a.agent !== s.agentId) return s;
      if (s.call?.callId !== a.callId || s.call.phase !== 'offered') return s;
      return endCall(s, a.callId, a.outcome || 'ended');

    case 'callEnded':
      return endCall(s, a.callId, a.outcome);

    case 'screenPop': {
      if (a.agent && a.agent !== s.agentId) return s; // a supervisor sees every agent's pops
      const pops = keepPops({ ...s.pops, [a.pop.callId]: a.pop }, [s.call?.callId ?? '', s.wrapup?.callId ?? '']);
      let next: DeskState = { ...s, pops, needPop: s.needPop === a.pop.callId ? '' : s.needPop };
      if (next.call?.callId === a.pop.callId && !next.call.caller) next = { ...next, call: { ...next.call, caller: a.pop.caller } };
      return next;
    }

    case 'popLoaded': {
      const next = { ...s, needPop: s.needPop === a.callId ? '' : s.needPop };
      return a.pop ? deskReducer(next, { type: 'screenPop', pop: a.pop, agent: '' }) : next;
    }

    case 'held':
      if (s.call?.callId !== a.callId) return s;
      return { ...s, call: { ...s.call, held: a.held } };

    case 'consult': {
      if (s.call?.callId !== a.callId) return s;
      const call = { ...s.call };
      if (a.state === 'ringing' || a.state === 'answered') {
        call.party = { target: a.target, state: a.state, conference: a.conference, joined: call.party?.joined ?? false };
        // A consultation holds the caller; a party called into a conference does not.
        if (!a.conference) call.held = true;
      } else {
        delete call.party;
        s = { ...s, notice: a.state === 'failed' ? { callId: a.callId, kind: 'consult_failed' } : s.notice };
      }
      return { ...s, call };
    }

    case 'queueStats': {
      const cur = s.queues[a.figures.queue];
      if (cur && time(cur.at) > time(a.figures.at)) return s;
      return { ...s, queues: { ...s.queues, [a.figures.queue]: a.figures } };
    }

    case 'conferenced':
      if (s.call?.callId !== a.callId || !s.call.party) return s;
      return { ...s, call: { ...s.call, held: false, party: { ...s.call.party, conference: true, joined: true } } };

    case 'customerCreated': {
      const pop = s.pops[a.callId];
      if (!pop) return s;
      return { ...s, pops: { ...s.pops, [a.callId]: { ...pop, customer: a.customer } } };
    }

    case 'startWrapup':
      return startWrapup(s, a.callId);

    case 'wrapupDone': {
      const wrapped = [...s.wrapped.filter((id) => id !== a.callId), a.callId].slice(-MAX_WRAPPED);
      const pops = { ...s.pops };
      if (s.call?.callId !== a.callId) delete pops[a.callId];
      return { ...s, wrapped, pops, wrapup: s.wrapup?.callId === a.callId ? null : s.wrapup };
    }

    case 'clearNotice':
      return { ...s, notice: null };
  }
  return s;
}

/** The screen pop of the call on screen (or the one being wrapped up). */
export function currentPop(s: DeskState): ScreenPop | null {
  const id = s.call?.callId || s.wrapup?.callId || '';
  return (id && s.pops[id]) || null;
}
