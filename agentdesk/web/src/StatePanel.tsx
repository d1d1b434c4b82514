import { useState } from 'react';
import type { AgentView } from './desk';
import type { PauseReason } from './types';
import { duration, useI18n, useNow, when } from './ui';

export type StateAct = { kind: 'login' } | { kind: 'ready' } | { kind: 'pause'; reason: string } | { kind: 'logout' };

export function StatePanel({
  agent,
  reasons,
  busy,
  onAct,
}: {
  agent: AgentView | null;
  reasons: PauseReason[];
  busy: boolean;
  onAct: (a: StateAct) => void;
}) {
  const { t, l, lang } = useI18n();
  const now = useNow();
  const [reason, setReason] = useState('');
  const state = agent?.state ?? '';
  const since = agent?.since ? Date.parse(agent.since) : NaN;
  const reasonLabel = (code: string) => reasons.find((r) => r.code === code)?.label || code;
  const onCallish = state === 'reserved' || state === 'on_call';
  const chosen = reason || reasons[0]?.code || '';

  return (
    <section className="card" aria-labelledby="state-title">
      <h2 id="state-title">{t('state.title')}</h2>
      <div className="state-line">
        <span className={`badge state-${state || 'unknown'}`} data-testid="agent-state" data-state={state}>
          {state ? l('state', state) : t('state.unknown')}
        </span>
        {!Number.isNaN(since) && <span className="muted">{t('state.since', { d: duration(now - since) })}</span>}
      </div>
      {state === 'paused' && agent?.reason && <p className="muted">{t('state.reason', { r: reasonLabel(agent.reason) })}</p>}
      {state === 'wrap_up' && agent?.wrapUntil && (
        <p className="muted">{t('state.wrap_until', { t: when(agent.wrapUntil, lang) })}</p>
      )}
      <div className="row">
        {state === 'logged_out' ? (
          <button type="button" className="primary" disabled={busy} onClick={() => onAct({ kind: 'login' })}>
            {t('state.login')}
          </button>
        ) : (
          <button
            type="button"
            className="primary"
            disabled={busy || state === 'available' || onCallish}
            onClick={() => onAct({ kind: 'ready' })}
          >
            {t('state.ready')}
          </button>
        )}
        <button type="button" disabled={busy || onCallish || state === 'logged_out'} onClick={() => onAct({ kind: 'logout' })}>
          {t('state.logout')}
        </button>
      </div>
      <div className="row">
        <label className="grow">
          <span className="sr-only">{t('state.pause_reason')}</span>
          <select
            aria-label={t('state.pause_reason')}
            value={chosen}
            onChange={(e) => setReason(e.target.value)}
            disabled={reasons.length === 0}
          >
            {reasons.map((r) => (
              <option key={r.code} value={r.code}>
                {r.label || r.code}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={busy || !chosen || onCallish || (state === 'paused' && agent?.reason === chosen)}
          onClick={() => onAct({ kind: 'pause', reason: chosen })}
        >
          {t('state.pause')}
        </button>
      </div>
    </section>
  );
}
