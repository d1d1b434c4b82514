import { useCallback, useEffect, useMemo, useState } from 'react';
import { createApi } from './api';
import { Desk } from './Desk';
import { Header } from './Header';
import { isLang, type Lang } from './i18n';
import { Login } from './Login';
import type { Session } from './types';
import { I18nContext, makeI18n } from './ui';

const LANG_KEY = 'ccd.desk.lang';

function savedLang(): Lang {
  try {
    const v = localStorage.getItem(LANG_KEY);
    return isLang(v) ? v : 'zh';
  } catch {
    return 'zh';
  }
}

export function App() {
  const [lang, setLangState] = useState<Lang>(savedLang);
  const [session, setSession] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);
  const [notice, setNotice] = useState('');

  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(LANG_KEY, l);
    } catch {
      /* private mode: the choice lasts for this page */
    }
  }, []);
  const i18n = useMemo(() => makeI18n(lang, setLang), [lang, setLang]);

  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = i18n.t('app.title');
  }, [lang, i18n]);

  const api = useMemo(
    () =>
      createApi({
        onUnauthorized: () => {
          setSession((s) => {
            if (s) setNotice('session');
            return null;
          });
        },
      }),
    [],
  );

  // A page reload keeps the session: the cookie is still there, /me gives the CSRF token back.
  useEffect(() => {
    api
      .me()
      .then((s) => setSession(s.user ? s : null))
      .catch(() => setSession(null))
      .finally(() => setChecked(true));
  }, [api]);

  const logout = useCallback(() => {
    api
      .logout()
      .catch(() => undefined)
      .finally(() => setSession(null));
  }, [api]);

  return (
    <I18nContext.Provider value={i18n}>
      {!checked ? null : session ? (
        <Desk key={session.user.username} api={api} session={session} onLogout={logout} />
      ) : (
        <>
          <Header />
          <Login
            api={api}
            notice={notice === 'session' ? i18n.t('error.session') : ''}
            onLogin={(s) => {
              setNotice('');
              setSession(s);
            }}
          />
        </>
      )}
    </I18nContext.Provider>
  );
}
