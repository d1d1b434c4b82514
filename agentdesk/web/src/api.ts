// Every request the desktop makes to ccd is here, so that a path or a body
// that changes on the server changes in one place.
//
// The session is an HttpOnly cookie set by POST /api/v1/auth/login; the
// browser sends it by itself (same origin). Every state-changing request
// (anything but GET and HEAD) carries the session's CSRF token in the
// X-CSRF-Token header. Errors come back as {"error": "..."}.

import type {
  AgentStateDoc,
  Customer,
  Interaction,
  NewCustomer,
  PauseReason,
  Session,
  TransferKind,
  Wrapup,
} from './types';

/** An API call that failed: status 0 when the server could not be reached. */
export class ApiError extends Error {
  readonly status: number;
  /** Seconds to wait, from Retry-After (429 on too many failed logins). */
  readonly retryAfter?: number;
  constructor(status: number, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export interface ApiOptions {
  /** Prefix of every path ('' in the browser: same origin). */
  base?: string;
  fetch?: typeof fetch;
  /** Called when a request other than login answers 401: the session ended. */
  onUnauthorized?: () => void;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const enc = encodeURIComponent;

/** The body of POST /api/v1/calls/{id}/transfer and /conference. */
export function transferBody(kind: TransferKind, to: string): { kind: TransferKind; to: string } {
  return { kind, to: kind === 'duty_manager' ? '' : to.trim() };
}

export function createApi(opts: ApiOptions = {}) {
  const base = opts.base ?? '';
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let csrf = '';

  async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
    let res: Response;
    try {
      res = await doFetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, err instanceof Error ? err.message : String(err));
    }
    const text = await res.text();
    let doc: unknown = undefined;
    if (text) {
      try {
        doc = JSON.parse(text);
      } catch {
        doc = undefined;
      }
    }
    if (!res.ok) {
      const msg =
        doc && typeof doc === 'object' && typeof (doc as { error?: unknown }).error === 'string'
          ? (doc as { error: string }).error
          : text.trim().slice(0, 200) || res.statusText || `HTTP ${res.status}`;
      const ra = Number(res.headers.get('Retry-After'));
      if (res.status === 401 && path !== '/api/v1/auth/login') opts.onUnauthorized?.();
      throw new ApiError(res.status, msg, Number.isFinite(ra) && ra > 0 ? ra : undefined);
    }
    return doc as T;
  }

  const get = <T>(path: string) => request<T>('GET', path);
  const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);
  const agent = (id: string) => `/api/v1/agents/${enc(id)}`;
  const call = (id: string) => `/api/v1/calls/${enc(id)}`;

  return {
    /** The CSRF token state-changing requests carry. */
    get csrfToken() {
      return csrf;
    },
    setCsrfToken(token: string) {
      csrf = token;
    },

    // Session.
    async login(username: string, password: string): Promise<Session> {
      const s = await post<Session>('/api/v1/auth/login', { username, password });
      csrf = s.csrf_token ?? '';
      return s;
    },
    async me(): Promise<Session> {
      const s = await get<Session>('/api/v1/me');
      if (s.csrf_token) csrf = s.csrf_token;
      return s;
    },
    async logout(): Promise<void> {
      try {
        await post<void>('/api/v1/auth/logout');
      } finally {
        csrf = '';
      }
    },

    // Agent state.
    agentState: (id: string) => get<AgentStateDoc>(`${agent(id)}/state`),
    agentLogin: (id: string) => post<AgentStateDoc>(`${agent(id)}/login`),
    ready: (id: string) => post<AgentStateDoc>(`${agent(id)}/ready`),
    pause: (id: string, reason: string) => post<AgentStateDoc>(`${agent(id)}/pause`, { reason }),
    agentLogout: (id: string) => post<AgentStateDoc>(`${agent(id)}/logout`),
    async pauseReasons(): Promise<PauseReason[]> {
      const doc = await get<{ pause_reasons?: PauseReason[] }>('/api/v1/pause-reasons');
      return doc?.pause_reasons ?? [];
    },
    async history(id: string, limit = 20): Promise<Interaction[]> {
      const doc = await get<{ calls?: Interaction[] }>(`${agent(id)}/calls?limit=${limit}`);
      return doc?.calls ?? [];
    },

    // Call control.
    answer: (callId: string) => post<unknown>(`${call(callId)}/answer`, {}),
    hangup: (callId: string) => post<unknown>(`${call(callId)}/hangup`, {}),
    hold: (callId: string) => post<unknown>(`${call(callId)}/hold`, {}),
    resume: (callId: string) => post<unknown>(`${call(callId)}/resume`, {}),
    /** A blind transfer, or with mode consult a consultation (the caller is held). */
    transfer: (callId: string, kind: TransferKind, to: string, mode: 'blind' | 'consult' = 'blind') =>
      post<unknown>(`${call(callId)}/transfer`, mode === 'blind' ? transferBody(kind, to) : { ...transferBody(kind, to), mode }),
    completeTransfer: (callId: string) => post<unknown>(`${call(callId)}/transfer/complete`, {}),
    /** Calls a party into a conference; without a target, joins the consulted party. */
    conference: (callId: string, kind?: TransferKind, to?: string) =>
      post<unknown>(`${call(callId)}/conference`, kind ? transferBody(kind, to ?? '') : {}),
    wrapup: (callId: string, w: Wrapup) => post<unknown>(`${call(callId)}/wrapup`, w),
    /** The screen pop of a call already offered (after a reconnect); null when the server has none. */
    async screenPop(callId: string): Promise<unknown | null> {
      try {
        return await get<unknown>(`${call(callId)}/screen-pop`);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
        throw err;
      }
    },

    // Customers.
    createCustomer: (c: NewCustomer) => post<Customer>('/api/v1/customers', c),
  };
}

export type Api = ReturnType<typeof createApi>;
