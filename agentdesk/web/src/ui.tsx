// Small shared pieces of the UI: the language context and formatting.

import { createContext, useContext, useEffect, useState } from 'react';
import { label, translate, type Lang, type MessageKey } from './i18n';

export interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: (key: MessageKey, params?: Record<string, string | number>) => string;
  l: (prefix: string, code: string) => string;
}

export function makeI18n(lang: Lang, setLang: (l: Lang) => void = () => undefined): I18n {
  return {
    lang,
    setLang,
    t: (key, params) => translate(lang, key, params),
    l: (prefix, code) => label(lang, prefix, code),
  };
}

export const I18nContext = createContext<I18n>(makeI18n('zh'));

export const useI18n = () => useContext(I18nContext);

/** useNow re-renders every period ms and returns the time. */
export function useNow(period = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), period);
    return () => clearInterval(id);
  }, [period]);
  return now;
}

/** duration formats ms as m:ss or h:mm:ss. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** when formats an ISO time: the time of day for today, else date and time. */
export function when(iso: string, lang: Lang, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = new Date(t);
  const locale = lang === 'zh' ? 'zh-CN' : 'en-GB';
  const today = new Date(now).toDateString() === d.toDateString();
  return d.toLocaleString(locale, {
    ...(today ? {} : { year: 'numeric', month: '2-digit', day: '2-digit' }),
    hour: '2-digit',
    minute: '2-digit',
  });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
