// Shapes the desktop reads from ccd's API (/api/v1). Fields are as the
// server sends them (snake_case); the screen pop and live events are turned
// into the desktop's own shapes in events.ts.

export type Role = 'agent' | 'team_leader' | 'duty_manager' | 'admin';

export interface User {
  username: string;
  display_name: string;
  role: Role | string;
  agent_id?: string;
}

/** Where the browser's WebRTC phone registers (GET /api/v1/me, agents only). */
export interface SipConfig {
  ws_url: string; // Asterisk's SIP WebSocket, e.g. ws://127.0.0.1:8088/ws
  uri: string; // sip:1001@127.0.0.1
  password: string;
  display_name?: string;
}

/** POST /api/v1/auth/login and GET /api/v1/me. */
export interface Session {
  user: User;
  csrf_token: string;
  expires_at?: string;
  sip?: SipConfig | null;
}

/** GET /api/v1/agents/{id}/state, and the answer of ready, pause, login and logout. */
export interface AgentStateDoc {
  agent: string;
  state: string;
  since?: string;
  reason?: string;
  call_id?: string;
  wrap_until?: string;
  answered_today?: number;
}

export interface PauseReason {
  code: string;
  label: string;
  productive?: boolean;
}

export type Level = 'potential' | 'individual' | 'company' | 'vip';

export interface Customer {
  id: string;
  name: string;
  level: Level | string;
  company?: string;
  phones?: string[];
  notes?: string;
}

/** POST /api/v1/customers. */
export interface NewCustomer {
  name: string;
  level: Level;
  company: string;
  phones: string[];
  notes: string;
}

/** A past call, in the screen pop and in GET /api/v1/agents/{id}/calls. */
export interface Interaction {
  call_id?: string;
  at: string;
  caller?: string;
  did?: string;
  outcome?: string;
  agent_id?: string;
  agent_name?: string;
  disposition?: string;
  notes?: string;
}

export interface Wrapup {
  disposition: string;
  notes: string;
}

/** Where a call is transferred or conferenced to. */
export type TransferKind = 'agent' | 'queue' | 'duty_manager' | 'external';
