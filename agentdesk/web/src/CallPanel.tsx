import { useState, type FormEvent } from 'react';
import type { CallView } from './desk';
import type { ScreenPop } from './events';
import type { PhoneView } from './phone';
import type { TransferKind } from './types';
import { duration, useI18n, useNow } from './ui';

export interface CallActs {
  answer: () => void;
  decline: () => void;
  hangup: () => void;
  hold: () => void;
  resume: () => void;
  transfer: (kind: TransferKind, to: string) => void;
  /** Holds the caller and calls the target; complete, conference or resume follow. */
  consult: (kind: TransferKind, to: string) => void;
  complete: () => void;
  /** With a target: calls it into a conference; without: joins the consulted party. */
  conference: (kind?: TransferKind, to?: string) => void;
}

const kinds: TransferKind[] = ['agent', 'queue', 'duty_manager', 'external'];

export function CallPanel({
  call,
  pop,
  phone,
  busy,
  acts,
}: {
  call: CallView | null;
  pop: ScreenPop | null;
  phone: PhoneView;
  busy: boolean;
  acts: CallActs;
}) {
  const { t } = useI18n();
  const now = useNow();
  const [kind, setKind] = useState<TransferKind>('agent');
  const [to, setTo] = useState('');
  const ringing = phone.call === 'ringing';

  if (!call && phone.call === 'idle') {
    return (
      <section className="card call idle" aria-labelledby="call-title">
        <h2 id="call-title">{t('call.title')}</h2>
        <p className="muted">{t('call.none')}</p>
      </section>
    );
  }

  const offered = call?.phase === 'offered' || (!call && ringing);
  const talking = call?.phase === 'talking' || (!call && phone.call === 'talking');
  const since = call?.since ? Date.parse(call.since) : NaN;
  const caller = call?.caller || pop?.caller || phone.from;
  const needsTarget = kind !== 'duty_manager';
  const party = call?.party;
  const canMove = !!call && talking && !busy && !party && (!needsTarget || to.trim() !== '');

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (canMove) acts.transfer(kind, to);
  };

  return (
    <section className={`card call ${offered ? 'ringing' : 'talking'}`} aria-labelledby="call-title" data-testid="call-panel">
      <h2 id="call-title">
        {offered ? t('call.offered') : party?.joined ? t('call.in_conference') : call?.held ? t('call.held') : t('call.talking')}
        {!Number.isNaN(since) && <span className="muted"> · {duration(now - since)}</span>}
      </h2>
      <dl className="facts">
        <dt>{t('call.caller')}</dt>
        <dd className="big" data-testid="call-caller">
          {caller || '—'}
        </dd>
        {pop?.did && (
          <>
            <dt>{t('call.did')}</dt>
            <dd>{pop.did}</dd>
          </>
        )}
        {(call?.queue || pop?.queue) && (
          <>
            <dt>{t('call.queue')}</dt>
            <dd>{call?.queue || pop?.queue}</dd>
          </>
        )}
        {call && (
          <>
            <dt>{t('call.waited')}</dt>
            <dd>{duration(call.waitedMs || pop?.waitedMs || 0)}</dd>
          </>
        )}
      </dl>
      {ringing && <p className="info">{t('phone.ringing', { from: phone.from || caller })}</p>}
      <div className="row">
        {offered && (
          <button type="button" className="primary answer" disabled={busy} onClick={acts.answer} title="F2">
            {t('call.answer')} <kbd>F2</kbd>
          </button>
        )}
        {ringing && (
          <button type="button" disabled={busy} onClick={acts.decline}>
            {t('call.decline')}
          </button>
        )}
        {talking && (
          <>
            <button type="button" className="danger" disabled={busy} onClick={acts.hangup} title="F4">
              {t('call.hangup')} <kbd>F4</kbd>
            </button>
            {call?.held || (party && !party.joined) ? (
              <button type="button" disabled={busy} onClick={acts.resume}>
                {party ? t('call.back_to_caller') : t('call.resume')}
              </button>
            ) : (
              !party && (
                <button type="button" disabled={busy} onClick={acts.hold}>
                  {t('call.hold')}
                </button>
              )
            )}
          </>
        )}
      </div>
      {talking && party && (
        <div className="row party" data-testid="call-party">
          <span className="grow">
            {t('call.party', { target: party.target })} ·{' '}
            {party.joined ? t('call.party.joined') : t(party.state === 'answered' ? 'call.party.answered' : 'call.party.ringing')}
          </span>
          {!party.joined && (
            <>
              <button type="button" disabled={busy || party.state !== 'answered'} onClick={acts.complete}>
                {t('call.complete')}
              </button>
              <button type="button" disabled={busy} onClick={() => acts.conference()}>
                {t('call.merge')}
              </button>
            </>
          )}
        </div>
      )}
      {talking && !party && (
        <form className="row transfer" onSubmit={submit}>
          <select aria-label={t('call.target_kind')} value={kind} onChange={(e) => setKind(e.target.value as TransferKind)}>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {t(`call.kind.${k}`)}
              </option>
            ))}
          </select>
          {needsTarget && (
            <input
              className="grow"
              aria-label={t('call.target')}
              placeholder={t('call.target')}
              value={to}
              onChange={(e) => setTo(e.target.value)}
              inputMode={kind === 'external' ? 'tel' : 'text'}
            />
          )}
          <button type="submit" disabled={!canMove}>
            {t('call.transfer')}
          </button>
          <button type="button" disabled={!canMove || kind === 'queue'} onClick={() => acts.consult(kind, to)}>
            {t('call.consult')}
          </button>
          <button type="button" disabled={!canMove} onClick={() => acts.conference(kind, to)}>
            {t('call.conference')}
          </button>
        </form>
      )}
    </section>
  );
}
