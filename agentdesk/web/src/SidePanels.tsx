import type { RefObject } from 'react';
import type { QueueFigures } from './events';
import type { PhoneView } from './phone';
import type { Interaction } from './types';
import { useI18n, when } from './ui';

export function PhonePanel({
  phone,
  audioRef,
  onMute,
}: {
  phone: PhoneView;
  audioRef: RefObject<HTMLAudioElement | null>;
  onMute: (muted: boolean) => void;
}) {
  const { t } = useI18n();
  const status =
    phone.status === 'failed'
      ? t('phone.failed', { e: phone.error || '?' })
      : t(`phone.${phone.status}`);
  return (
    <section className="card phone" aria-labelledby="phone-title">
      <h2 id="phone-title">{t('phone.title')}</h2>
      <p className={`phone-status phone-${phone.status}`} data-testid="phone-status" data-status={phone.status}>
        {status}
      </p>
      {phone.call === 'talking' && (
        <div className="row">
          <span>{phone.muted ? t('phone.muted') : t('phone.in_call')}</span>
          <button type="button" onClick={() => onMute(!phone.muted)}>
            {phone.muted ? t('phone.unmute') : t('phone.mute')}
          </button>
        </div>
      )}
      <audio ref={audioRef} autoPlay />
      <p className="keys" aria-label={t('keys.title')}>
        {t('keys.title')}: <kbd>F2</kbd> {t('keys.answer')} · <kbd>F4</kbd> {t('keys.hangup')}
      </p>
    </section>
  );
}

/** The queues' live figures: waiting callers, agents free and staffed, expected wait. */
export function QueuesPanel({ queues }: { queues: Record<string, QueueFigures> }) {
  const { t } = useI18n();
  const list = Object.values(queues).sort((a, b) => a.queue.localeCompare(b.queue));
  if (list.length === 0) return null;
  return (
    <section className="card queues" aria-labelledby="queues-title">
      <h2 id="queues-title">{t('queues.title')}</h2>
      <table className="list" data-testid="queues">
        <thead>
          <tr>
            <th>{t('queues.queue')}</th>
            <th>{t('queues.waiting')}</th>
            <th>{t('queues.available')}</th>
            <th>{t('queues.expected')}</th>
          </tr>
        </thead>
        <tbody>
          {list.map((q) => (
            <tr key={q.queue} className={q.waiting > 0 && q.available === 0 ? 'busy' : ''}>
              <td>{q.queue}</td>
              <td>{q.waiting}</td>
              <td>
                {q.available}/{q.staffed}
              </td>
              <td>{q.waiting > 0 ? t('queues.minutes', { n: q.expectedMin }) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function HistoryPanel({ calls, onRefresh }: { calls: Interaction[]; onRefresh: () => void }) {
  const { t, l, lang } = useI18n();
  return (
    <section className="card history" aria-labelledby="history-title">
      <h2 id="history-title">
        {t('history.title')}
        <button type="button" className="link" onClick={onRefresh}>
          {t('history.refresh')}
        </button>
      </h2>
      {calls.length === 0 ? (
        <p className="muted">{t('history.none')}</p>
      ) : (
        <div className="scroll">
          <table className="list" data-testid="history">
            <thead>
              <tr>
                <th>{t('history.time')}</th>
                <th>{t('history.caller')}</th>
                <th>{t('history.disposition')}</th>
              </tr>
            </thead>
            <tbody>
              {calls.map((c, i) => (
                <tr key={c.call_id || i} title={c.notes || ''}>
                  <td className="nowrap">{when(c.at, lang)}</td>
                  <td>{c.caller}</td>
                  <td>
                    {c.disposition ? l('disposition', c.disposition) : c.outcome ? l('outcome', c.outcome) : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
