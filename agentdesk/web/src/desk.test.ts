import { describe, expect, it } from 'vitest';
import { currentPop, deskReducer, initialDesk, type DeskAction, type DeskState } from './desk';
import { normalizeScreenPop, toAction, type Envelope } from './events';

const ME = '1001';
let n = 0;

function env(type: string, data: unknown, seq?: number): Envelope {
  n++;
  return { id: `ev-${n}`, type, version: 1, time: '2026-11-20T02:00:00Z', source: 'ccd', seq, data };
}

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 2, 0, s)).toISOString();

function state(from: string, to: string, t: number, extra: Record<string, unknown> = {}, seq?: number) {
  return env('agent.state', { agent: ME, from, to, at: at(t), ...extra }, seq);
}

const popData = {
  call_id: 'c1',
  caller: '13800138000',
  did: '4006001001',
  customer: { id: 'u1', name: '王建国', level: 'vip', company: '鲜丰超市', phones: ['13800138000'] },
  ivr: { path: '2>1>0', language: 'zh', trace_code: '6901234567892', trace_result: '猪肉 批次 B2026-11' },
  queue: 'trace',
  waited_ms: 12000,
  history: [{ at: at(0), agent: '李娜', disposition: 'resolved', notes: '已答复' }],
};

/** run applies envelopes (mapped by toAction, as the app does) and plain actions in order. */
function run(...steps: (Envelope | DeskAction)[]): DeskState {
  let s = initialDesk(ME);
  for (const step of steps) {
    const a = 'source' in step ? toAction(step) : step;
    if (a) s = deskReducer(s, a);
  }
  return s;
}

describe('toAction', () => {
  it('maps the event types the desktop uses', () => {
    expect(toAction(state('available', 'reserved', 1, { call_id: 'c1' }, 7))).toEqual({
      type: 'agentState',
      agent: ME,
      from: 'available',
      to: 'reserved',
      reason: '',
      callId: 'c1',
      at: at(1),
      seq: 7,
    });
    expect(
      toAction(env('queue.offered', { call_id: 'c1', queue: 'trace', agent: ME, device: 'PJSIP/1001', caller: '138', waited_ms: 5 })),
    ).toMatchObject({ type: 'offered', callId: 'c1', queue: 'trace', caller: '138', waitedMs: 5 });
    expect(toAction(env('queue.connected', { call_id: 'c1', queue: 'trace', agent: ME, waited_ms: 5 }))).toMatchObject({
      type: 'connected',
      callId: 'c1',
    });
    expect(toAction(env('queue.offer_ended', { call_id: 'c1', agent: ME, outcome: 'no_answer' }))).toEqual({
      type: 'offerEnded',
      callId: 'c1',
      agent: ME,
      outcome: 'no_answer',
    });
    expect(toAction(env('call.ended', { call_id: 'c1', outcome: 'completed', hangup_by: 'caller' }))).toEqual({
      type: 'callEnded',
      callId: 'c1',
      outcome: 'completed',
    });
    expect(toAction(env('desk.screen_pop', popData))).toMatchObject({ type: 'screenPop', pop: { callId: 'c1' } });
  });

  it('ignores what it does not know or cannot read', () => {
    expect(toAction(env('queue.joined', { call_id: 'c1' }))).toBeNull();
    expect(toAction(env('agent.state', null))).toBeNull();
    expect(toAction(env('desk.screen_pop', { caller: 'no call id' }))).toBeNull();
    expect(toAction(null as unknown as Envelope)).toBeNull();
  });
});

describe('normalizeScreenPop', () => {
  it('reads the brief shape', () => {
    const p = normalizeScreenPop(popData)!;
    expect(p.customer?.name).toBe('王建国');
    expect(p.customer?.level).toBe('vip');
    expect(p.ivr).toEqual({ path: '2>1>0', language: 'zh', traceCode: '6901234567892', traceResult: '猪肉 批次 B2026-11', extra: {} });
    expect(p.waitedMs).toBe(12000);
    expect(p.history[0]).toMatchObject({ agent: '李娜', disposition: 'resolved' });
  });

  it("reads the server's desk.ScreenPop shape too", () => {
    const p = normalizeScreenPop(
      {
        caller: '13900000001',
        did: '4006001001',
        new_caller: true,
        customer: null,
        ivr: { menu_path: '1', lang: 'en', trace_code: '123', trace_lookup: 'found', vip_level: '2' },
        waited_s: 3.5,
        history: [{ call_id: 'old', at: at(0), agent_id: '1003', agent_name: '张敏', outcome: 'completed' }],
      },
      'c9',
    )!;
    expect(p.callId).toBe('c9');
    expect(p.customer).toBeNull();
    expect(p.ivr).toEqual({ path: '1', language: 'en', traceCode: '123', traceResult: 'found', extra: { vip_level: '2' } });
    expect(p.waitedMs).toBe(3500);
    expect(p.history[0].agent).toBe('张敏');
  });
});

describe('deskReducer', () => {
  it('follows a call from offer to wrap-up', () => {
    let s = run(
      { type: 'conn', conn: 'open' },
      { type: 'stateLoaded', doc: { agent: ME, state: 'available', since: at(0) } },
      env('queue.offered', { call_id: 'c1', queue: 'trace', agent: ME, caller: '13800138000', waited_ms: 12000, at: at(1) }),
      state('available', 'reserved', 1, { call_id: 'c1' }),
      env('desk.screen_pop', popData),
    );
    expect(s.agent?.state).toBe('reserved');
    expect(s.call).toMatchObject({ callId: 'c1', phase: 'offered', caller: '13800138000', queue: 'trace' });
    expect(currentPop(s)?.customer?.name).toBe('王建国');

    s = deskReducer(s, toAction(env('queue.connected', { call_id: 'c1', queue: 'trace', agent: ME, waited_ms: 12000, at: at(3) }))!);
    s = deskReducer(s, toAction(state('reserved', 'on_call', 3, { call_id: 'c1' }))!);
    expect(s.call?.phase).toBe('talking');
    expect(s.wrapup).toBeNull();

    s = deskReducer(s, { type: 'held', callId: 'c1', held: true });
    expect(s.call?.held).toBe(true);

    s = deskReducer(s, toAction(env('call.ended', { call_id: 'c1', outcome: 'completed' }))!);
    expect(s.call).toBeNull();
    expect(s.wrapup).toEqual({ callId: 'c1', caller: '13800138000' });
    expect(currentPop(s)?.callId).toBe('c1'); // the pop stays for the wrap-up

    s = deskReducer(s, toAction(state('on_call', 'wrap_up', 5, { call_id: 'c1' }))!);
    expect(s.agent?.state).toBe('wrap_up');
    expect(s.wrapup?.callId).toBe('c1');

    s = deskReducer(s, { type: 'wrapupDone', callId: 'c1' });
    expect(s.wrapup).toBeNull();
    expect(s.pops.c1).toBeUndefined();
    // A late wrap_up event for the same call does not bring the form back.
    s = deskReducer(s, toAction(state('on_call', 'wrap_up', 5, { call_id: 'c1' }))!);
    expect(s.wrapup).toBeNull();
  });

  it('keeps a screen pop that arrives before the offer', () => {
    const s = run(
      env('desk.screen_pop', popData),
      env('queue.offered', { call_id: 'c1', queue: 'trace', agent: ME, waited_ms: 1, at: at(1) }),
    );
    expect(s.call?.caller).toBe('13800138000');
    expect(currentPop(s)?.ivr.traceResult).toBe('猪肉 批次 B2026-11');
  });

  it('drops an offer that ended unanswered, with a notice', () => {
    const s = run(
      env('queue.offered', { call_id: 'c1', queue: 'trace', agent: ME, at: at(1) }),
      env('queue.offer_ended', { call_id: 'c1', queue: 'trace', agent: ME, outcome: 'no_answer' }),
    );
    expect(s.call).toBeNull();
    expect(s.wrapup).toBeNull();
    expect(s.notice).toEqual({ callId: 'c1', kind: 'no_answer' });
  });

  it("ignores other agents' events", () => {
    const s = run(
      env('agent.state', { agent: '1002', from: 'available', to: 'paused', at: at(1) }),
      env('queue.offered', { call_id: 'c2', queue: 'trace', agent: '1002', at: at(1) }),
      env('desk.screen_pop', { ...popData, call_id: 'c2', agent: '1002' }),
    );
    expect(s.agent).toBeNull();
    expect(s.call).toBeNull();
    expect(s.pops).toEqual({});
  });

  it('never lets an older state replace a newer one', () => {
    let s = run(state('available', 'paused', 10, { reason: 'lunch' }));
    s = deskReducer(s, { type: 'stateLoaded', doc: { agent: ME, state: 'available', since: at(5) } });
    expect(s.agent).toMatchObject({ state: 'paused', reason: 'lunch' });
    s = deskReducer(s, { type: 'stateLoaded', doc: { agent: ME, state: 'available', since: at(11) } });
    expect(s.agent?.state).toBe('available');
  });

  it('asks for the state again on a gap in the sequence', () => {
    let s = run(state('logged_out', 'available', 1, {}, 4));
    expect(s.resync).toBe(0);
    s = deskReducer(s, toAction(state('available', 'paused', 2, { reason: 'x' }, 5))!);
    expect(s.resync).toBe(0);
    s = deskReducer(s, toAction(state('paused', 'available', 3, {}, 5))!); // a duplicate
    expect(s.agent?.state).toBe('paused');
    s = deskReducer(s, toAction(state('paused', 'available', 4, {}, 8))!); // 6 and 7 lost
    expect(s.resync).toBe(1);
    expect(s.agent?.state).toBe('available');
    s = deskReducer(s, { type: 'conn', conn: 'open' }); // a new connection starts counting afresh
    s = deskReducer(s, toAction(state('available', 'paused', 5, { reason: 'x' }, 2))!);
    expect(s.resync).toBe(1);
    expect(s.agent?.state).toBe('paused');
  });

  it('catches up after a reconnect from the fetched state', () => {
    // Talking when the stream broke; the call ended meanwhile.
    let s = run(
      env('queue.connected', { call_id: 'c1', queue: 'trace', agent: ME, at: at(1) }),
      state('reserved', 'on_call', 1, { call_id: 'c1' }),
      { type: 'conn', conn: 'reconnecting' },
      { type: 'conn', conn: 'open' },
      { type: 'stateLoaded', doc: { agent: ME, state: 'wrap_up', since: at(30), call_id: 'c1', wrap_until: at(60) } },
    );
    expect(s.call).toBeNull();
    expect(s.wrapup?.callId).toBe('c1');
    expect(s.agent?.wrapUntil).toBe(at(60));

    // Offered while the stream was down: the call shows and its pop is asked for.
    s = run({ type: 'stateLoaded', doc: { agent: ME, state: 'reserved', since: at(2), call_id: 'c7' } });
    expect(s.call).toMatchObject({ callId: 'c7', phase: 'offered' });
    expect(s.needPop).toBe('c7');
    s = deskReducer(s, { type: 'popLoaded', callId: 'c7', pop: normalizeScreenPop({ ...popData, call_id: 'c7' }) });
    expect(s.needPop).toBe('');
    expect(currentPop(s)?.customer?.name).toBe('王建国');

    // Available again with an offer on screen: the offer is gone.
    s = deskReducer(s, { type: 'stateLoaded', doc: { agent: ME, state: 'available', since: at(9) } });
    expect(s.call).toBeNull();
    expect(s.wrapup).toBeNull();
  });

  it('stores a new caller created from the screen pop', () => {
    let s = run(
      env('queue.offered', { call_id: 'c3', queue: 'trace', agent: ME, at: at(1) }),
      env('desk.screen_pop', { ...popData, call_id: 'c3', customer: null }),
    );
    expect(currentPop(s)?.customer).toBeNull();
    s = deskReducer(s, { type: 'customerCreated', callId: 'c3', customer: { id: 'n1', name: '赵新', level: 'individual' } });
    expect(currentPop(s)?.customer?.name).toBe('赵新');
  });

  it('a new offer while another call shows ends the old one', () => {
    const s = run(
      env('queue.connected', { call_id: 'c1', queue: 'trace', agent: ME, at: at(1) }),
      env('queue.offered', { call_id: 'c2', queue: 'trace', agent: ME, at: at(9) }),
    );
    expect(s.call?.callId).toBe('c2');
    expect(s.wrapup?.callId).toBe('c1');
  });
});

describe('call control events', () => {
  const talking = (): (Envelope | DeskAction)[] => [
    state('available', 'reserved', 1, { call_id: 'c1' }, 1),
    state('reserved', 'on_call', 2, { call_id: 'c1' }, 2),
  ];

  it('follows hold, a consultation, its failure and a conference', () => {
    let s = run(...talking(), env('call.held', { call_id: 'c1', agent: ME }));
    expect(s.call?.held).toBe(true);
    s = run(...talking(), env('call.held', { call_id: 'c1' }), env('call.resumed', { call_id: 'c1' }));
    expect(s.call?.held).toBe(false);

    s = run(...talking(), env('call.consult', { call_id: 'c1', agent: ME, target: 'agent:1002', state: 'ringing' }));
    expect(s.call?.party).toEqual({ target: 'agent:1002', state: 'ringing', conference: false, joined: false });
    expect(s.call?.held).toBe(true);

    const failed = run(
      ...talking(),
      env('call.consult', { call_id: 'c1', target: 'agent:1002', state: 'ringing' }),
      env('call.consult', { call_id: 'c1', target: 'agent:1002', state: 'failed', detail: '19 No answer' }),
    );
    expect(failed.call?.party).toBeUndefined();
    expect(failed.call?.held).toBe(true); // the agent takes the caller back
    expect(failed.notice).toEqual({ callId: 'c1', kind: 'consult_failed' });

    const conf = run(
      ...talking(),
      env('call.consult', { call_id: 'c1', target: 'number:13900000000', state: 'ringing', conference: true }),
      env('call.consult', { call_id: 'c1', target: 'number:13900000000', state: 'answered', conference: true }),
      env('call.conferenced', { call_id: 'c1', parties: ['138', 'agent:1001', 'number:13900000000'] }),
    );
    expect(conf.call?.held).toBe(false);
    expect(conf.call?.party).toMatchObject({ joined: true, conference: true });
  });

  it('ignores call control events of other calls', () => {
    const s = run(...talking(), env('call.held', { call_id: 'other' }), env('call.consult', { call_id: 'other', state: 'ringing' }));
    expect(s.call?.held).toBe(false);
    expect(s.call?.party).toBeUndefined();
  });
});

describe('queue figures', () => {
  it('keeps the latest figures of each queue', () => {
    const fig = (queue: string, waiting: number, t: number) =>
      env('queue.stats', { queue, waiting, staffed: 3, available: waiting ? 0 : 2, avg_handle_ms: 90000, expected_wait_min: 2, at: at(t) });
    const s = run(fig('trace', 2, 5), fig('aftersales', 0, 6), fig('trace', 1, 4));
    expect(s.queues.trace).toEqual({ queue: 'trace', waiting: 2, staffed: 3, available: 0, expectedMin: 2, at: at(5) });
    expect(s.queues.aftersales.available).toBe(2);
    expect(toAction(env('queue.stats', { waiting: 1 }))).toBeNull(); // no queue id
  });
});
