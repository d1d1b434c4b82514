import { Fragment, useState, type FormEvent } from 'react';
import type { ScreenPop } from './events';
import type { Level, NewCustomer } from './types';
import { useI18n, when } from './ui';

const levels: Level[] = ['individual', 'company', 'vip', 'potential'];

export function ScreenPopView({
  pop,
  busy,
  onCreate,
}: {
  pop: ScreenPop | null;
  busy: boolean;
  onCreate: (c: NewCustomer) => void;
}) {
  const { t, l, lang } = useI18n();
  if (!pop) {
    return (
      <section className="card pop" aria-labelledby="pop-title">
        <h2 id="pop-title">{t('pop.title')}</h2>
        <p className="muted">{t('pop.none')}</p>
      </section>
    );
  }
  const c = pop.customer;
  const ivr = pop.ivr;
  const hasIvr = ivr.path || ivr.language || ivr.traceCode || ivr.traceResult || Object.keys(ivr.extra).length > 0;
  return (
    <section className="card pop" aria-labelledby="pop-title" data-testid="screen-pop" data-call-id={pop.callId}>
      <h2 id="pop-title">{t('pop.title')}</h2>
      <div className="pop-grid">
        <div>
          <h3>{t('pop.customer')}</h3>
          {c ? (
            <dl className="facts">
              <dt>{t('customer.name')}</dt>
              <dd className="big" data-testid="customer-name">
                {c.name}
              </dd>
              <dt>{t('pop.level')}</dt>
              <dd>
                <span className={`badge level-${c.level}`} data-testid="customer-level">
                  {l('level', c.level)}
                </span>
              </dd>
              {c.company && (
                <>
                  <dt>{t('pop.company')}</dt>
                  <dd>{c.company}</dd>
                </>
              )}
              {c.notes && (
                <>
                  <dt>{t('pop.notes')}</dt>
                  <dd className="clip">{c.notes}</dd>
                </>
              )}
              {pop.otherMatches > 0 && <dd className="muted span">{t('pop.other_matches', { n: pop.otherMatches })}</dd>}
            </dl>
          ) : (
            <NewCallerForm caller={pop.caller} busy={busy} onCreate={onCreate} />
          )}
        </div>
        <div>
          <h3>{t('pop.ivr')}</h3>
          {hasIvr ? (
            <dl className="facts">
              {ivr.path && (
                <>
                  <dt>{t('pop.ivr_path')}</dt>
                  <dd>{ivr.path}</dd>
                </>
              )}
              {ivr.language && (
                <>
                  <dt>{t('pop.ivr_language')}</dt>
                  <dd>{l('language', ivr.language)}</dd>
                </>
              )}
              {ivr.traceCode && (
                <>
                  <dt>{t('pop.trace_code')}</dt>
                  <dd className="mono">{ivr.traceCode}</dd>
                </>
              )}
              {ivr.traceResult && (
                <>
                  <dt>{t('pop.trace_result')}</dt>
                  <dd data-testid="trace-result">{ivr.traceResult}</dd>
                </>
              )}
              {Object.entries(ivr.extra).map(([k, v]) => (
                <Fragment key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </Fragment>
              ))}
            </dl>
          ) : (
            <p className="muted">—</p>
          )}
        </div>
      </div>
      <h3>{t('pop.history')}</h3>
      {pop.history.length === 0 ? (
        <p className="muted">{t('pop.history_none')}</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th>{t('history.time')}</th>
              <th>{t('history.agent')}</th>
              <th>{t('history.disposition')}</th>
              <th>{t('history.notes')}</th>
            </tr>
          </thead>
          <tbody>
            {pop.history.map((h, i) => (
              <tr key={i}>
                <td className="nowrap">{when(h.at, lang)}</td>
                <td>{h.agent}</td>
                <td>{h.disposition ? l('disposition', h.disposition) : h.outcome ? l('outcome', h.outcome) : ''}</td>
                <td className="clip">{h.notes}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function NewCallerForm({ caller, busy, onCreate }: { caller: string; busy: boolean; onCreate: (c: NewCustomer) => void }) {
  const { t, l } = useI18n();
  const [name, setName] = useState('');
  const [level, setLevel] = useState<Level>('individual');
  const [company, setCompany] = useState('');
  const [notes, setNotes] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    onCreate({ name: name.trim(), level, company: company.trim(), phones: caller ? [caller] : [], notes: notes.trim() });
  };
  return (
    <form className="new-caller" onSubmit={submit} data-testid="new-caller">
      <p>
        <span className="badge level-new">{t('pop.new_caller')}</span> {t('pop.new_caller_hint')}
      </p>
      <div className="row">
        <input className="grow" aria-label={t('customer.name')} placeholder={t('customer.name')} required value={name} onChange={(e) => setName(e.target.value)} />
        <select aria-label={t('customer.level')} value={level} onChange={(e) => setLevel(e.target.value as Level)}>
          {levels.map((lv) => (
            <option key={lv} value={lv}>
              {l('level', lv)}
            </option>
          ))}
        </select>
      </div>
      <div className="row">
        <input className="grow" aria-label={t('customer.company')} placeholder={t('customer.company')} value={company} onChange={(e) => setCompany(e.target.value)} />
      </div>
      <div className="row">
        <input className="grow" aria-label={t('customer.notes')} placeholder={t('customer.notes')} value={notes} onChange={(e) => setNotes(e.target.value)} />
        <button type="submit" disabled={busy || !name.trim()}>
          {t('customer.save')}
        </button>
      </div>
    </form>
  );
}
