// The live event stream: GET /api/v1/events as a WebSocket on the page's own
// origin (the session cookie authenticates it). It reconnects by itself with
// a growing, jittered delay (0.5 s up to 10 s), at once when the browser
// comes back online; onOpen runs after every (re)connect so that the app
// fetches the agent state again and never shows a stale one.

import type { Envelope } from './events';
import type { Conn } from './desk';

export interface StreamHandlers {
  onEnvelope: (e: Envelope) => void;
  onStatus: (c: Conn) => void;
  onOpen: () => void;
  /** Called when a connection closes without ever opening (the session may have ended). */
  onRefused?: () => void;
}

export interface Stream {
  close(): void;
}

export function eventsURL(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/v1/events`;
}

export function openStream(h: StreamHandlers, url = eventsURL()): Stream {
  let ws: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let closed = false;

  const schedule = () => {
    if (closed || timer !== undefined) return;
    const base = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
    attempt++;
    timer = setTimeout(() => {
      timer = undefined;
      connect();
    }, base / 2 + Math.random() * (base / 2));
  };

  const connect = () => {
    if (closed) return;
    let opened = false;
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      opened = true;
      attempt = 0;
      h.onStatus('open');
      h.onOpen();
    };
    sock.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let env: Envelope;
      try {
        env = JSON.parse(m.data) as Envelope;
      } catch {
        return;
      }
      h.onEnvelope(env);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (closed) return;
      h.onStatus('reconnecting');
      if (!opened) h.onRefused?.();
      schedule();
    };
    sock.onerror = () => {
      /* onclose follows */
    };
  };

  const online = () => {
    if (closed || ws) return;
    clearTimeout(timer);
    timer = undefined;
    attempt = 0;
    connect();
  };
  window.addEventListener('online', online);

  h.onStatus('connecting');
  connect();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      window.removeEventListener('online', online);
      ws?.close(1000, 'bye');
      ws = null;
    },
  };
}
