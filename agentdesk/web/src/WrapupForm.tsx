import { useState, type FormEvent } from 'react';
import type { WrapupView } from './desk';
import { dispositions } from './i18n';
import type { Wrapup } from './types';
import { useI18n } from './ui';

export function WrapupForm({
  wrapup,
  customerName,
  busy,
  onSubmit,
}: {
  wrapup: WrapupView;
  customerName: string;
  busy: boolean;
  onSubmit: (w: Wrapup) => void;
}) {
  const { t, l } = useI18n();
  const [disposition, setDisposition] = useState('');
  const [notes, setNotes] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (disposition) onSubmit({ disposition, notes: notes.trim() });
  };
  const who = [wrapup.caller, customerName].filter(Boolean).join(' · ');
  return (
    <form className="card wrapup" onSubmit={submit} aria-labelledby="wrapup-title" data-testid="wrapup-form">
      <h2 id="wrapup-title">
        {t('wrapup.title')}
        {who && <span className="muted"> · {t('wrapup.call', { caller: who })}</span>}
      </h2>
      <div className="row">
        <label className="grow">
          {t('wrapup.disposition')}
          <select name="disposition" required value={disposition} onChange={(e) => setDisposition(e.target.value)}>
            <option value="">{t('wrapup.choose')}</option>
            {dispositions.map((d) => (
              <option key={d} value={d}>
                {l('disposition', d)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        {t('wrapup.notes')}
        <textarea name="notes" rows={2} maxLength={4000} value={notes} onChange={(e) => setNotes(e.target.value)} />
      </label>
      <div className="row">
        <button type="submit" className="primary" disabled={busy || !disposition}>
          {t('wrapup.submit')}
        </button>
      </div>
    </form>
  );
}
