// The WebRTC softphone: JsSIP registers from the page to Asterisk's SIP
// WebSocket with the credentials of GET /api/v1/me ("sip"). Auto-answer is
// off: an incoming INVITE rings until the agent answers or declines. JsSIP
// is loaded only when the agent has a softphone, so it stays out of the
// first bundle.

import type { PeerConnectionEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { IncomingRTCSessionEvent, RTCSessionEvent, UA } from 'jssip/lib/UA';
import type { SipConfig } from './types';

export type PhoneStatus = 'off' | 'insecure' | 'connecting' | 'registered' | 'unregistered' | 'failed';
export type CallStatus = 'idle' | 'ringing' | 'talking';

export interface PhoneView {
  status: PhoneStatus;
  error: string;
  call: CallStatus;
  from: string; // who rings: display name or number
  muted: boolean;
}

export const idlePhone: PhoneView = { status: 'off', error: '', call: 'idle', from: '', muted: false };

export class Softphone {
  private ua: UA | null = null;
  private session: RTCSession | null = null;
  private view: PhoneView = { ...idlePhone };
  private stopped = false;

  constructor(
    private readonly cfg: SipConfig,
    private readonly audio: () => HTMLAudioElement | null,
    private readonly onChange: (v: PhoneView) => void,
  ) {}

  private set(p: Partial<PhoneView>) {
    this.view = { ...this.view, ...p };
    this.onChange(this.view);
  }

  async start(): Promise<void> {
    if (!window.isSecureContext || !navigator.mediaDevices) {
      this.set({ status: 'insecure' });
      return;
    }
    this.set({ status: 'connecting' });
    const mod = await import('jssip');
    // JsSIP is CommonJS: the bundler hands it over as the default export.
    const JsSIP = (mod as unknown as { default?: typeof mod }).default ?? mod;
    if (this.stopped) return;
    JsSIP.debug.disable();
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(this.cfg.ws_url)],
      uri: this.cfg.uri,
      password: this.cfg.password,
      display_name: this.cfg.display_name,
      register: true,
      session_timers: false,
      user_agent: 'ccd-desk',
    });
    this.ua = ua;
    ua.on('registered', () => this.set({ status: 'registered', error: '' }));
    ua.on('unregistered', () => this.set({ status: 'unregistered' }));
    ua.on('registrationFailed', (e) => this.set({ status: 'failed', error: String(e.cause ?? '') }));
    ua.on('disconnected', () => {
      if (this.view.status === 'registered') this.set({ status: 'connecting' });
    });
    ua.on('newRTCSession', (ev: RTCSessionEvent) => {
      if (String(ev.originator) !== 'remote') return;
      const e = ev as IncomingRTCSessionEvent;
      const s = e.session;
      if (this.session) {
        s.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        return;
      }
      this.session = s;
      const from = e.request.from;
      this.set({ call: 'ringing', from: from.display_name || from.uri.user || '', muted: false });
      s.on('peerconnection', (pe: PeerConnectionEvent) => this.attach(pe.peerconnection));
      s.on('confirmed', () => this.set({ call: 'talking' }));
      const end = () => {
        if (this.session !== s) return;
        this.session = null;
        const el = this.audio();
        if (el) el.srcObject = null;
        this.set({ call: 'idle', from: '', muted: false });
      };
      s.on('ended', end);
      s.on('failed', end);
    });
    ua.start();
  }

  private attach(pc: RTCPeerConnection) {
    pc.addEventListener('track', (ev) => {
      const el = this.audio();
      if (!el) return;
      el.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
      void el.play().catch(() => undefined);
    });
  }

  get ringing(): boolean {
    return this.view.call === 'ringing';
  }

  get inCall(): boolean {
    return this.view.call === 'talking';
  }

  answer() {
    if (!this.session || this.view.call !== 'ringing') return false;
    this.session.answer({
      mediaConstraints: { audio: true, video: false },
      // Loopback and LAN: host candidates only, no STUN (no outside network).
      pcConfig: { iceServers: [] },
    });
    return true;
  }

  decline() {
    if (!this.session || this.view.call !== 'ringing') return false;
    this.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    return true;
  }

  hangup() {
    if (!this.session) return false;
    this.session.terminate();
    return true;
  }

  setMuted(muted: boolean) {
    if (!this.session || this.view.call !== 'talking') return;
    if (muted) this.session.mute({ audio: true });
    else this.session.unmute({ audio: true });
    this.set({ muted });
  }

  stop() {
    this.stopped = true;
    try {
      this.session?.terminate();
    } catch {
      /* already over */
    }
    this.session = null;
    this.ua?.stop();
    this.ua = null;
  }
}
