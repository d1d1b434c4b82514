import type { ReactNode } from 'react';
import type { User } from './types';
import { useI18n } from './ui';

export function Header({ user, onLogout, children }: { user?: User; onLogout?: () => void; children?: ReactNode }) {
  const { t } = useI18n();
  return (
    <header className="top">
      <strong className="brand">{t('app.title')}</strong>
      {user && (
        <span className="who" data-testid="who">
          {user.display_name || user.username}
          {user.agent_id && <span className="muted"> · {t('header.agent', { id: user.agent_id })}</span>}
        </span>
      )}
      <span className="grow" />
      {children}
      <LangSwitch />
      {onLogout && (
        <button type="button" className="link" onClick={onLogout}>
          {t('header.logout')}
        </button>
      )}
    </header>
  );
}

export function LangSwitch() {
  const { t, lang, setLang } = useI18n();
  return (
    <button
      type="button"
      className="link"
      lang={lang === 'zh' ? 'en' : 'zh'}
      title={t('lang.switch.title')}
      data-testid="lang-switch"
      onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}
    >
      {t('lang.switch')}
    </button>
  );
}
