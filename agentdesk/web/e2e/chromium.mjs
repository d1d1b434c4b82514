// The browser the desktop's scripts drive: Debian's Chromium through
// playwright-core (never a downloaded browser; CHROMIUM overrides the path),
// headless, with a fresh profile, fake media devices, and the desktop's
// viewport, locale (zh-CN) and time zone. Used by e2e/desk.mjs,
// e2e/screenpop-bench.mjs and test/deske2e/desk.mjs.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// softphoneArgs let the browser softphone talk to Asterisk on the loopback:
// Asterisk's only ICE candidate is 127.0.0.1, so the browser must offer
// loopback candidates too, as addresses rather than mDNS names; the far
// end's audio plays without a user gesture.
export const softphoneArgs = [
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

// launch starts the browser with a profile directory named after name and
// the extra command-line args. close() ends the browser and removes the
// profile.
export async function launch(name, extraArgs = []) {
  const profile = mkdtempSync(join(tmpdir(), `ccd-${name}-chromium-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      ...extraArgs,
    ],
    viewport: { width: 1366, height: 768 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const close = async () => {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}
