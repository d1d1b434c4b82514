import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApi, transferBody } from './api';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
  credentials?: RequestCredentials;
}

/** fake answers requests from a table of (method path) → response and records them. */
function fake(routes: Record<string, () => Response>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    calls.push({
      url,
      method,
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
      credentials: init?.credentials,
    });
    const route = routes[`${method} ${url}`];
    if (!route) return new Response(JSON.stringify({ error: `no route ${method} ${url}` }), { status: 404 });
    return route();
  });
  return { calls, fetch: fetch as unknown as typeof globalThis.fetch };
}

const json = (v: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json', ...headers } });

const session = {
  user: { username: 'alice', display_name: '李娜', role: 'agent', agent_id: '1001' },
  csrf_token: 'tok-123',
};

describe('api', () => {
  it('sends the CSRF token from login on every state-changing request, never on GET', async () => {
    const f = fake({
      'POST /api/v1/auth/login': () => json(session),
      'GET /api/v1/agents/1001/state': () => json({ agent: '1001', state: 'paused' }),
      'POST /api/v1/agents/1001/ready': () => json({ agent: '1001', state: 'available' }),
      'POST /api/v1/agents/1001/pause': () => json({ agent: '1001', state: 'paused', reason: 'lunch' }),
      'POST /api/v1/calls/c%2F1/answer': () => json({}),
      'POST /api/v1/calls/c%2F1/transfer': () => json({}),
      'POST /api/v1/calls/c%2F2/transfer': () => json({}),
      'POST /api/v1/calls/c%2F2/transfer/complete': () => json({}),
      'POST /api/v1/calls/c%2F2/conference': () => json({}),
      'POST /api/v1/calls/c%2F1/wrapup': () => json({}, 201),
      'POST /api/v1/customers': () => json({ id: 'x', name: '赵新', level: 'individual' }, 201),
      'POST /api/v1/auth/logout': () => new Response(null, { status: 204 }),
    });
    const api = createApi({ fetch: f.fetch });
    await api.login('alice', 'pw');
    expect(f.calls[0].headers['X-CSRF-Token']).toBeUndefined(); // nothing to send yet
    expect(f.calls[0].body).toEqual({ username: 'alice', password: 'pw' });
    expect(api.csrfToken).toBe('tok-123');

    expect((await api.agentState('1001')).state).toBe('paused');
    expect((await api.ready('1001')).state).toBe('available');
    await api.pause('1001', 'lunch');
    await api.answer('c/1');
    await api.transfer('c/1', 'external', ' 13900000000 ');
    await api.transfer('c/2', 'agent', '1002', 'consult');
    await api.completeTransfer('c/2');
    await api.conference('c/2');
    await api.wrapup('c/1', { disposition: 'resolved', notes: 'ok' });
    await api.createCustomer({ name: '赵新', level: 'individual', company: '', phones: ['139'], notes: '' });
    await api.logout();
    expect(api.csrfToken).toBe('');

    for (const c of f.calls.slice(1)) {
      expect(c.credentials).toBe('same-origin');
      if (c.method === 'GET') expect(c.headers['X-CSRF-Token'], c.url).toBeUndefined();
      else expect(c.headers['X-CSRF-Token'], c.url).toBe('tok-123');
    }
    const bodies = Object.fromEntries(f.calls.map((c) => [`${c.method} ${c.url}`, c.body]));
    expect(bodies['POST /api/v1/agents/1001/pause']).toEqual({ reason: 'lunch' });
    expect(bodies['POST /api/v1/calls/c%2F1/transfer']).toEqual({ kind: 'external', to: '13900000000' });
    expect(bodies['POST /api/v1/calls/c%2F2/transfer']).toEqual({ kind: 'agent', to: '1002', mode: 'consult' });
    expect(bodies['POST /api/v1/calls/c%2F2/conference']).toEqual({});
    expect(bodies['POST /api/v1/calls/c%2F1/wrapup']).toEqual({ disposition: 'resolved', notes: 'ok' });
  });

  it('takes the CSRF token from /me after a reload', async () => {
    const f = fake({
      'GET /api/v1/me': () => json({ ...session, csrf_token: 'from-me' }),
      'POST /api/v1/agents/1001/logout': () => json({ agent: '1001', state: 'logged_out' }),
    });
    const api = createApi({ fetch: f.fetch });
    await api.me();
    await api.agentLogout('1001');
    expect(f.calls[1].headers['X-CSRF-Token']).toBe('from-me');
  });

  it('turns error answers into ApiError with the server message', async () => {
    const onUnauthorized = vi.fn();
    const f = fake({
      'POST /api/v1/auth/login': () => json({ error: 'wrong username or password' }, 401),
      'GET /api/v1/agents/1001/state': () => json({ error: 'session ended: log in again' }, 401),
      'POST /api/v1/agents/1001/ready': () => json({ error: 'illegal transition: on_call → available' }, 409),
      'POST /api/v1/agents/1001/pause': () => new Response('upstream broke', { status: 502, statusText: 'Bad Gateway' }),
      'POST /api/v1/agents/1001/login': () => new Response('', { status: 500, statusText: 'Internal Server Error' }),
    });
    const api = createApi({ fetch: f.fetch, onUnauthorized });

    const login = await api.login('alice', 'bad').catch((e) => e);
    expect(login).toBeInstanceOf(ApiError);
    expect(login).toMatchObject({ status: 401, message: 'wrong username or password' });
    expect(onUnauthorized).not.toHaveBeenCalled(); // a wrong password is not a lost session

    await expect(api.agentState('1001')).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);

    await expect(api.ready('1001')).rejects.toMatchObject({ status: 409, message: 'illegal transition: on_call → available' });
    await expect(api.pause('1001', 'x')).rejects.toMatchObject({ status: 502, message: 'upstream broke' });
    await expect(api.agentLogin('1001')).rejects.toMatchObject({ status: 500, message: 'Internal Server Error' });
  });

  it('reports Retry-After of a throttled login', async () => {
    const f = fake({
      'POST /api/v1/auth/login': () => json({ error: 'too many failed logins' }, 429, { 'Retry-After': '42' }),
    });
    await expect(createApi({ fetch: f.fetch }).login('a', 'b')).rejects.toMatchObject({ status: 429, retryAfter: 42 });
  });

  it('reports an unreachable server as status 0', async () => {
    const api = createApi({
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
    });
    await expect(api.me()).rejects.toMatchObject({ status: 0, message: 'Failed to fetch' });
  });

  it('reads lists and tolerates a missing screen pop', async () => {
    const f = fake({
      'GET /api/v1/pause-reasons': () => json({ pause_reasons: [{ code: 'lunch', label: '午餐' }] }),
      'GET /api/v1/agents/1001/calls?limit=20': () => json({ agent: '1001', calls: [{ call_id: 'c1', at: 'x' }] }),
      'GET /api/v1/calls/c2/screen-pop': () => json({ call_id: 'c2' }),
    });
    const api = createApi({ fetch: f.fetch });
    expect(await api.pauseReasons()).toEqual([{ code: 'lunch', label: '午餐' }]);
    expect(await api.history('1001')).toHaveLength(1);
    expect(await api.screenPop('c1')).toBeNull(); // 404
    expect(await api.screenPop('c2')).toEqual({ call_id: 'c2' });
  });

  it('transferBody leaves the target out for the duty manager', () => {
    expect(transferBody('duty_manager', 'ignored')).toEqual({ kind: 'duty_manager', to: '' });
    expect(transferBody('queue', ' aftersales ')).toEqual({ kind: 'queue', to: 'aftersales' });
  });
});
