// The agent view: live state from the event stream, state control, the
// offered call with its screen pop, call control, wrap-up, history and the
// softphone.

import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import type { Api } from './api';
import { CallPanel, type CallActs } from './CallPanel';
import { currentPop, deskReducer, initialDesk, type Conn } from './desk';
import { Header } from './Header';
import { normalizeScreenPop, toAction } from './events';
import { idlePhone, Softphone, type PhoneView } from './phone';
import { ScreenPopView } from './ScreenPopView';
import { HistoryPanel, PhonePanel, QueuesPanel } from './SidePanels';
import { StatePanel, type StateAct } from './StatePanel';
import { openStream } from './stream';
import type { Interaction, NewCustomer, PauseReason, Session, TransferKind, Wrapup } from './types';
import { errorText, useI18n } from './ui';
import { WrapupForm } from './WrapupForm';

type Toast = { kind: 'ok' | 'error'; text: string } | null;

export function Desk({ api, session, onLogout }: { api: Api; session: Session; onLogout: () => void }) {
  const { t, l } = useI18n();
  const agentId = session.user.agent_id ?? '';
  const [s, dispatch] = useReducer(deskReducer, agentId, initialDesk);
  const [reasons, setReasons] = useState<PauseReason[]>([]);
  const [history, setHistory] = useState<Interaction[]>([]);
  const [phone, setPhone] = useState<PhoneView>(idlePhone);
  const [busy, setBusy] = useState(false);
  const [toast, setToast] = useState<Toast>(null);
  const phoneRef = useRef<Softphone | null>(null);
  const audioRef = useRef<HTMLAudioElement | null>(null);

  // Stable across language switches, so that switching does not reconnect the stream.
  const tRef = useRef(t);
  tRef.current = t;
  const fail = useCallback(
    (err: unknown) => setToast({ kind: 'error', text: tRef.current('error.generic', { e: errorText(err) }) }),
    [],
  );

  const refreshState = useCallback(async () => {
    if (!agentId) return;
    try {
      dispatch({ type: 'stateLoaded', doc: await api.agentState(agentId) });
    } catch (err) {
      fail(err);
    }
  }, [api, agentId, fail]);

  const refreshHistory = useCallback(async () => {
    if (!agentId) return;
    try {
      setHistory(await api.history(agentId));
    } catch (err) {
      fail(err);
    }
  }, [api, agentId, fail]);

  // The event stream; after every (re)connect the state is fetched again.
  useEffect(() => {
    if (!agentId) return;
    const stream = openStream({
      onEnvelope: (env) => {
        const a = toAction(env);
        if (a?.type === 'answerRequest') {
          if (a.agent === agentId) phoneRef.current?.answer();
          return;
        }
        if (a) dispatch(a);
      },
      onStatus: (conn) => dispatch({ type: 'conn', conn }),
      onOpen: () => void refreshState(),
      onRefused: () => void api.me().catch(() => undefined), // a 401 here ends the session
    });
    return () => stream.close();
  }, [api, agentId, refreshState]);

  useEffect(() => {
    if (s.resync > 0) void refreshState();
  }, [s.resync, refreshState]);

  useEffect(() => {
    const id = s.needPop;
    if (!id) return;
    api
      .screenPop(id)
      .then((doc) => dispatch({ type: 'popLoaded', callId: id, pop: doc ? normalizeScreenPop(doc, id) : null }))
      .catch(() => dispatch({ type: 'popLoaded', callId: id, pop: null }));
  }, [api, s.needPop]);

  useEffect(() => {
    if (!agentId) return;
    api
      .pauseReasons()
      .then((list) => setReasons(list.filter((r) => r.code !== 'missed_offers')))
      .catch(fail);
    void refreshHistory();
  }, [api, agentId, fail, refreshHistory]);

  // A call that ended unanswered, or was taken away, gets a short notice.
  useEffect(() => {
    if (!s.notice) return;
    const key = `call.ended.${s.notice.kind}`;
    const known = (CALL_ENDED as readonly string[]).includes(key);
    setToast({ kind: 'ok', text: known ? t(key as (typeof CALL_ENDED)[number]) : t('call.ended.ended') });
    dispatch({ type: 'clearNotice' });
  }, [s.notice, t]);

  useEffect(() => {
    if (!toast) return;
    const id = setTimeout(() => setToast(null), toast.kind === 'error' ? 8000 : 4000);
    return () => clearTimeout(id);
  }, [toast]);

  // The softphone, when the server gave the agent a SIP account.
  useEffect(() => {
    const sip = session.sip;
    if (!sip?.ws_url || !sip.uri) return;
    const p = new Softphone(sip, () => audioRef.current, setPhone);
    phoneRef.current = p;
    p.start().catch((err) => setPhone({ ...idlePhone, status: 'failed', error: errorText(err) }));
    return () => {
      p.stop();
      phoneRef.current = null;
      setPhone(idlePhone);
    };
  }, [session.sip]);

  const run = useCallback(
    async (f: () => Promise<void>) => {
      setBusy(true);
      try {
        await f();
      } catch (err) {
        fail(err);
      } finally {
        setBusy(false);
      }
    },
    [fail],
  );

  const onStateAct = (a: StateAct) =>
    run(async () => {
      const doc =
        a.kind === 'login'
          ? await api.agentLogin(agentId)
          : a.kind === 'ready'
            ? await api.ready(agentId)
            : a.kind === 'pause'
              ? await api.pause(agentId, a.reason)
              : await api.agentLogout(agentId);
      if (doc) dispatch({ type: 'stateLoaded', doc });
    });

  const call = s.call;
  const pop = currentPop(s);

  const acts: CallActs = {
    answer: () => {
      if (phoneRef.current?.answer()) return;
      if (call?.phase === 'offered') void run(async () => void (await api.answer(call.callId)));
    },
    decline: () => void phoneRef.current?.decline(),
    hangup: () => {
      if (phoneRef.current?.inCall && phoneRef.current.hangup()) return;
      if (call) void run(async () => void (await api.hangup(call.callId)));
    },
    hold: () =>
      call &&
      void run(async () => {
        await api.hold(call.callId);
        dispatch({ type: 'held', callId: call.callId, held: true });
      }),
    resume: () =>
      call &&
      void run(async () => {
        await api.resume(call.callId);
        dispatch({ type: 'held', callId: call.callId, held: false });
      }),
    transfer: (kind: TransferKind, to: string) =>
      call &&
      void run(async () => {
        await api.transfer(call.callId, kind, to);
        setToast({ kind: 'ok', text: t('call.transferred') });
      }),
    consult: (kind: TransferKind, to: string) =>
      call &&
      void run(async () => {
        await api.transfer(call.callId, kind, to, 'consult');
        dispatch({ type: 'consult', callId: call.callId, target: `${kind}:${to}`, state: 'ringing', conference: false });
      }),
    complete: () =>
      call &&
      void run(async () => {
        await api.completeTransfer(call.callId);
        setToast({ kind: 'ok', text: t('call.transferred') });
      }),
    conference: (kind?: TransferKind, to?: string) =>
      call &&
      void run(async () => {
        await api.conference(call.callId, kind, to);
        setToast({ kind: 'ok', text: t('call.conferenced') });
      }),
  };

  // Keyboard: F2 answers, F4 hangs up (shown on the buttons and in the softphone panel).
  const actsRef = useRef(acts);
  actsRef.current = acts;
  const canRef = useRef({ answer: false, hangup: false });
  canRef.current = {
    answer: call?.phase === 'offered' || phone.call === 'ringing',
    hangup: call?.phase === 'talking' || phone.call === 'talking',
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
      if (e.key === 'F2' && canRef.current.answer) {
        e.preventDefault();
        actsRef.current.answer();
      } else if (e.key === 'F4' && canRef.current.hangup) {
        e.preventDefault();
        actsRef.current.hangup();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const onCreateCustomer = (c: NewCustomer) => {
    const id = pop?.callId;
    if (!id) return;
    void run(async () => {
      const created = await api.createCustomer(c);
      dispatch({ type: 'customerCreated', callId: id, customer: created && created.name ? created : { id: '', ...c } });
      setToast({ kind: 'ok', text: t('customer.saved') });
    });
  };

  const wrapup = s.wrapup;
  const onWrapup = (w: Wrapup) => {
    if (!wrapup) return;
    void run(async () => {
      await api.wrapup(wrapup.callId, w);
      dispatch({ type: 'wrapupDone', callId: wrapup.callId });
      setToast({ kind: 'ok', text: t('wrapup.saved') });
      void refreshHistory();
    });
  };

  const logout = () => {
    phoneRef.current?.stop();
    onLogout();
  };

  if (!agentId) {
    return (
      <>
        <Header user={session.user} onLogout={logout} />
        <main className="desk">
          <p className="card info">{t('header.no_agent')}</p>
        </main>
      </>
    );
  }

  const wrapPop = wrapup ? s.pops[wrapup.callId] : undefined;
  return (
    <>
    <Header user={session.user} onLogout={logout}>
      <ConnStatus conn={s.conn} />
      {s.agent && (
        <span className={`badge state-${s.agent.state}`} data-testid="header-state">
          {l('state', s.agent.state)}
        </span>
      )}
    </Header>
    <main className="desk">
      {toast && (
        <div className={`toast ${toast.kind}`} role={toast.kind === 'error' ? 'alert' : 'status'}>
          {toast.text}
          <button type="button" className="link" aria-label={t('common.close')} onClick={() => setToast(null)}>
            ×
          </button>
        </div>
      )}
      <div className="columns">
        <div className="side">
          <StatePanel agent={s.agent} reasons={reasons} busy={busy} onAct={onStateAct} />
          <PhonePanel phone={phone} audioRef={audioRef} onMute={(m) => phoneRef.current?.setMuted(m)} />
          <QueuesPanel queues={s.queues} />
          <HistoryPanel calls={history} onRefresh={() => void refreshHistory()} />
        </div>
        <div className="work">
          {wrapup && (
            <WrapupForm
              key={`wrapup-${wrapup.callId}`}
              wrapup={wrapup}
              customerName={wrapPop?.customer?.name ?? ''}
              busy={busy}
              onSubmit={onWrapup}
            />
          )}
          <CallPanel key={`call-${call?.callId ?? ''}`} call={call} pop={pop} phone={phone} busy={busy} acts={acts} />
          {(call || pop) && <ScreenPopView key={`pop-${pop?.callId ?? ''}`} pop={pop} busy={busy} onCreate={onCreateCustomer} />}
        </div>
      </div>
    </main>
    </>
  );
}

const CALL_ENDED = [
  'call.ended.missed',
  'call.ended.no_answer',
  'call.ended.rejected',
  'call.ended.abandoned',
  'call.ended.ended',
  'call.ended.consult_failed',
] as const;

function ConnStatus({ conn }: { conn: Conn }) {
  const { t } = useI18n();
  return (
    <span className={`conn conn-${conn}`} role="status" data-testid="conn-status" data-conn={conn}>
      <span className="dot" aria-hidden="true" />
      {t(`conn.${conn}`)}
    </span>
  );
}
