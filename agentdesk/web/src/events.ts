// The one place where CTI events (GET /api/v1/events, a WebSocket of
// envelopes) and the screen pop become the desktop's actions. A type or a
// field renamed on the server is changed here and nowhere else.

import type { Customer } from './types';

/** An event as ccd sends it (cti.Envelope). */
export interface Envelope {
  id: string;
  type: string;
  version: number;
  time: string;
  source: string;
  seq?: number;
  data: unknown;
}

/** Event types the desktop reads. */
export const EventTypes = {
  agentState: 'agent.state',
  offered: 'queue.offered',
  connected: 'queue.connected',
  offerEnded: 'queue.offer_ended',
  callEnded: 'call.ended',
  screenPop: 'desk.screen_pop',
  held: 'call.held',
  resumed: 'call.resumed',
  consult: 'call.consult',
  conferenced: 'call.conferenced',
  answer: 'desk.answer',
  queueStats: 'queue.stats',
} as const;

/** A queue's live figures (queue.stats). */
export interface QueueFigures {
  queue: string;
  waiting: number;
  staffed: number;
  available: number;
  expectedMin: number;
  at: string;
}

/** What the IVR collected before the caller reached the queue. */
export interface IvrContext {
  path: string; // menu path, e.g. "2>1"
  language: string; // zh, en
  traceCode: string;
  traceResult: string;
  /** Any other variables the flow passed on. */
  extra: Record<string, string>;
}

export interface PopHistory {
  at: string;
  agent: string;
  disposition: string;
  notes: string;
  outcome: string;
}

/** The screen pop as the desktop shows it. */
export interface ScreenPop {
  callId: string;
  caller: string;
  did: string;
  customer: Customer | null; // null: a new caller, the agent types the details in
  otherMatches: number;
  ivr: IvrContext;
  queue: string;
  waitedMs: number;
  history: PopHistory[];
}

export type EventAction =
  | {
      type: 'agentState';
      agent: string;
      from: string;
      to: string;
      reason: string;
      callId: string;
      at: string;
      seq?: number;
    }
  | { type: 'offered'; callId: string; queue: string; agent: string; caller: string; waitedMs: number; at: string }
  | { type: 'connected'; callId: string; queue: string; agent: string; waitedMs: number; at: string }
  | { type: 'offerEnded'; callId: string; agent: string; outcome: string }
  | { type: 'callEnded'; callId: string; outcome: string }
  | { type: 'screenPop'; pop: ScreenPop; agent: string }
  | { type: 'held'; callId: string; held: boolean }
  /** A party the agent called: ringing, answered, failed or ended. */
  | { type: 'consult'; callId: string; target: string; state: string; conference: boolean }
  | { type: 'conferenced'; callId: string }
  /** The server asks the softphone to answer (a soft answer from elsewhere). */
  | { type: 'answerRequest'; callId: string; agent: string }
  | { type: 'queueStats'; figures: QueueFigures };

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function pick(o: Obj, ...keys: string[]): string {
  for (const k of keys) {
    const s = str(o[k]);
    if (s) return s;
  }
  return '';
}

const ivrKeys = {
  path: ['path', 'menu_path', 'menu'],
  language: ['language', 'lang'],
  traceCode: ['trace_code', 'code'],
  traceResult: ['trace_result', 'trace_lookup', 'lookup_result', 'trace'],
};

function ivrContext(v: unknown): IvrContext {
  const o = isObj(v) ? v : {};
  const known = new Set(Object.values(ivrKeys).flat());
  const extra: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (!known.has(k) && str(val)) extra[k] = str(val);
  }
  let traceResult = pick(o, ...ivrKeys.traceResult);
  const tr = ivrKeys.traceResult.map((k) => o[k]).find(isObj);
  if (!traceResult && tr) traceResult = pick(tr, 'summary', 'text', 'product');
  return {
    path: pick(o, ...ivrKeys.path),
    language: pick(o, ...ivrKeys.language),
    traceCode: pick(o, ...ivrKeys.traceCode),
    traceResult,
    extra,
  };
}

function customer(v: unknown): Customer | null {
  if (!isObj(v) || !str(v.name)) return null;
  return {
    id: str(v.id),
    name: str(v.name),
    level: str(v.level),
    company: str(v.company),
    phones: Array.isArray(v.phones) ? v.phones.map(str).filter(Boolean) : [],
    notes: str(v.notes),
  };
}

function popHistory(v: unknown): PopHistory[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((h) => ({
    at: str(h.at),
    agent: pick(h, 'agent', 'agent_name', 'agent_id'),
    disposition: str(h.disposition),
    notes: str(h.notes),
    outcome: str(h.outcome),
  }));
}

/**
 * normalizeScreenPop reads a screen pop: the desk.screen_pop event's data,
 * or GET /api/v1/calls/{id}/screen-pop. It takes the brief's shape
 * ({call_id, caller, did, customer|null, ivr:{path, language, trace_code,
 * trace_result}, queue, waited_ms, history:[{at, agent, disposition, notes}]})
 * and the server's desk.ScreenPop (new_caller, ivr as the flow's variables,
 * waited_s, history of Interaction). Null when it has no call id.
 */
export function normalizeScreenPop(data: unknown, callId = ''): ScreenPop | null {
  if (!isObj(data)) return null;
  const id = str(data.call_id) || callId;
  if (!id) return null;
  const waitedMs = data.waited_ms !== undefined ? num(data.waited_ms) : Math.round(num(data.waited_s) * 1000);
  return {
    callId: id,
    caller: pick(data, 'caller', 'ani'),
    did: pick(data, 'did', 'dnis'),
    customer: data.new_caller === true ? null : customer(data.customer),
    otherMatches: num(data.other_matches),
    ivr: ivrContext(data.ivr),
    queue: str(data.queue),
    waitedMs,
    history: popHistory(data.history),
  };
}

/** toAction maps an envelope to an action; null for events the desktop does not use. */
export function toAction(env: Envelope): EventAction | null {
  if (!isObj(env) || !isObj(env.data)) return null;
  const d = env.data;
  switch (env.type) {
    case EventTypes.agentState:
      return {
        type: 'agentState',
        agent: str(d.agent),
        from: str(d.from),
        to: str(d.to),
        reason: str(d.reason),
        callId: str(d.call_id),
        at: str(d.at) || env.time,
        seq: typeof env.seq === 'number' ? env.seq : undefined,
      };
    case EventTypes.offered:
      return {
        type: 'offered',
        callId: str(d.call_id),
        queue: str(d.queue),
        agent: str(d.agent),
        caller: str(d.caller),
        waitedMs: num(d.waited_ms),
        at: str(d.at) || env.time,
      };
    case EventTypes.connected:
      return {
        type: 'connected',
        callId: str(d.call_id),
        queue: str(d.queue),
        agent: str(d.agent),
        waitedMs: num(d.waited_ms),
        at: str(d.at) || env.time,
      };
    case EventTypes.offerEnded:
      return { type: 'offerEnded', callId: str(d.call_id), agent: str(d.agent), outcome: str(d.outcome) };
    case EventTypes.callEnded:
      return { type: 'callEnded', callId: str(d.call_id), outcome: str(d.outcome) };
    case EventTypes.held:
      return { type: 'held', callId: str(d.call_id), held: true };
    case EventTypes.resumed:
      return { type: 'held', callId: str(d.call_id), held: false };
    case EventTypes.consult:
      return { type: 'consult', callId: str(d.call_id), target: str(d.target), state: str(d.state), conference: d.conference === true };
    case EventTypes.conferenced:
      return { type: 'conferenced', callId: str(d.call_id) };
    case EventTypes.queueStats: {
      const queue = str(d.queue);
      if (!queue) return null;
      return {
        type: 'queueStats',
        figures: {
          queue,
          waiting: num(d.waiting),
          staffed: num(d.staffed),
          available: num(d.available),
          expectedMin: num(d.expected_wait_min),
          at: str(d.at) || env.time,
        },
      };
    }
    case EventTypes.answer:
      return { type: 'answerRequest', callId: str(d.call_id), agent: str(d.agent) };
    case EventTypes.screenPop: {
      const pop = normalizeScreenPop(d);
      return pop ? { type: 'screenPop', pop, agent: str(d.agent) } : null;
    }
  }
  return null;
}

