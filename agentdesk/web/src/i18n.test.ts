import { describe, expect, it } from 'vitest';
import { dispositions, label, languages, messages, translate } from './i18n';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('i18n tables', () => {
  const zhKeys = Object.keys(messages.zh).sort();

  it.each(languages)('%s has every key, each with text', (lang) => {
    const keys = Object.keys(messages[lang]).sort();
    expect(keys).toEqual(zhKeys);
    for (const k of keys) expect(messages[lang][k as keyof typeof messages.zh].trim(), `${lang} ${k}`).not.toBe('');
  });

  it('uses the same placeholders in every language', () => {
    for (const k of zhKeys) {
      const want = placeholders(messages.zh[k as keyof typeof messages.zh]);
      for (const lang of languages) expect(placeholders(messages[lang][k as keyof typeof messages.zh]), `${lang} ${k}`).toEqual(want);
    }
  });

  it('translates every state, level, disposition and transfer target', () => {
    const codes: [string, string[]][] = [
      ['state', ['logged_out', 'available', 'reserved', 'on_call', 'wrap_up', 'paused']],
      ['level', ['potential', 'individual', 'company', 'vip']],
      ['disposition', [...dispositions]],
      ['call.kind', ['agent', 'queue', 'duty_manager', 'external']],
    ];
    for (const [prefix, list] of codes) {
      for (const code of list) {
        for (const lang of languages) expect(label(lang, prefix, code), `${lang} ${prefix}.${code}`).not.toBe(code);
      }
    }
  });

  it('dispositions are codes the server accepts', () => {
    for (const d of dispositions) expect(d).toMatch(/^[a-z0-9][a-z0-9_.-]{0,63}$/);
  });

  it('fills placeholders and keeps unknown ones', () => {
    expect(translate('zh', 'login.throttled', { s: 30 })).toBe('失败次数过多，请 30 秒后再试');
    expect(translate('en', 'login.throttled', { s: 30 })).toBe('Too many failed attempts: try again in 30 s');
    expect(translate('en', 'login.throttled')).toContain('{s}');
    expect(label('en', 'state', 'something_new')).toBe('something_new');
  });

  it('Chinese is Chinese and English is not', () => {
    expect(messages.zh['call.answer']).toMatch(/[\u4e00-\u9fff]/);
    for (const [k, v] of Object.entries(messages.en)) {
      if (k === 'lang.switch') continue; // the switch names the other language
      expect(v, k).not.toMatch(/[\u4e00-\u9fff]/);
    }
  });
});
