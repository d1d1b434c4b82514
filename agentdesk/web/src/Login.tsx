import { useState, type FormEvent } from 'react';
import { ApiError, type Api } from './api';
import type { Session } from './types';
import { useI18n } from './ui';

export function Login({ api, onLogin, notice }: { api: Api; onLogin: (s: Session) => void; notice: string }) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      let s = await api.login(username.trim(), password);
      // /me adds what login may leave out (the softphone's SIP account).
      try {
        s = { ...s, ...(await api.me()) };
      } catch {
        /* the login answer is enough to go on */
      }
      setPassword('');
      onLogin(s);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('login.wrong'));
      else if (err instanceof ApiError && err.status === 429) setError(t('login.throttled', { s: err.retryAfter ?? 60 }));
      else if (err instanceof ApiError && err.status === 0) setError(t('login.unreachable'));
      else setError(t('error.generic', { e: err instanceof Error ? err.message : String(err) }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">{t('login.title')}</h1>
        {notice && <p className="info">{notice}</p>}
        <label>
          {t('login.username')}
          <input
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          {t('login.password')}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t('login.busy') : t('login.submit')}
        </button>
      </form>
    </main>
  );
}
