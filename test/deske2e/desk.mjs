// Drives the agent desktop of a real ccd in Debian's Chromium (playwright-core
// from agentdesk/web/node_modules, never a downloaded browser), one step at a
// time as the Go test (test/deske2e) asks, so that the test can place calls
// and check the far ends between the steps. Run by desk_test.go:
//
//   DESK_URL=http://127.0.0.1:port DESK_WEB_DIR=agentdesk/web ARTIFACTS=/dir \
//   FAKE_MIC=/dir/mic.wav node test/deske2e/desk.mjs
//
// Protocol: one JSON command a line on stdin, {"id": 1, "op": "login",
// "args": {...}}; one answer a line on stdout, prefixed with "@deske2e ":
// {"id": 1, "ok": true, "data": {...}, "shot": "/dir/03-login.png"} or
// {"id": 1, "ok": false, "error": "..."}. Every other line is a log line.
// Each step leaves a screenshot NN-op.png in ARTIFACTS (failure: NN-op-failed.png).
//
// The browser's microphone is FAKE_MIC, a WAV file Chromium loops. What the
// softphone receives is recorded in the page with WebAudio from the
// softphone's <audio> element (its srcObject is the call's remote stream).

import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const base = process.env.DESK_URL;
const webDir = resolve(process.env.DESK_WEB_DIR ?? 'agentdesk/web');
const out = process.env.ARTIFACTS ?? tmpdir();
const mic = process.env.FAKE_MIC;
if (!base || !mic) {
  console.error('DESK_URL and FAKE_MIC are required');
  process.exit(2);
}
// The desktop's browser module, with playwright-core, a devDependency of the desktop.
const { launch, softphoneArgs } = await import(pathToFileURL(join(webDir, 'e2e/chromium.mjs')).href);

const MARK = '@deske2e ';
const reply = (msg) => process.stdout.write(MARK + JSON.stringify(msg) + '\n');
const log = (...a) => console.log(...a);

const { context, close } = await launch('deske2e', [
  '--use-file-for-fake-audio-capture=' + mic,
  ...softphoneArgs,
]);
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15_000);
page.on('pageerror', (e) => log(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() === 'error' || m.type() === 'warning') log(`console ${m.type()}: ${m.text()}`);
});
page.on('response', (r) => {
  if (r.url().includes('/api/v1/') && r.request().method() !== 'GET') log(`${r.request().method()} ${new URL(r.url()).pathname} -> ${r.status()}`);
});

const stateBadge = page.getByTestId('agent-state');
const phoneStatus = page.getByTestId('phone-status');

async function visible(locator, what, timeout) {
  await locator.waitFor({ state: 'visible', timeout }).catch((e) => {
    throw new Error(`${what}: not visible: ${e.message.split('\n')[0]}`);
  });
}

async function hasText(locator, text, what, timeout = 15_000) {
  await visible(locator, what, timeout);
  const deadline = Date.now() + timeout;
  for (;;) {
    const got = (await locator.innerText()).trim();
    if (got.includes(text)) return got;
    if (Date.now() > deadline) throw new Error(`${what}: shows "${got}", want "${text}"`);
    await page.waitForTimeout(50);
  }
}

async function state(want, what, timeout = 15_000) {
  await page
    .locator(`[data-testid=agent-state][data-state=${want}]`)
    .waitFor({ timeout })
    .catch(async () => {
      const got = await stateBadge.getAttribute('data-state').catch(() => '?');
      throw new Error(`${what}: agent state ${got}, want ${want}`);
    });
}

/** click clicks a button and returns the status and body of the POST it makes to a path ending in suffix. */
async function clickFor(button, suffix) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(suffix)),
    button.click(),
  ]);
  return { status: res.status(), body: (await res.text()).trim() };
}

async function toastText() {
  const t = page.locator('.toast');
  return (await t.count()) ? (await t.first().innerText()).trim() : '';
}

const ops = {
  async login({ user, password }) {
    await page.goto(`${base}/desk/`);
    await visible(page.getByRole('heading', { name: '坐席登录' }), 'login form');
    await page.locator('input[name=username]').fill(user);
    await page.locator('input[name=password]').fill(password);
    await page.getByRole('button', { name: '登录' }).click();
    await page.locator('[data-testid=conn-status][data-conn=open]').waitFor();
    const who = (await page.getByTestId('who').innerText()).trim();
    // The softphone registers with Asterisk over the SIP WebSocket.
    await page
      .locator('[data-testid=phone-status][data-status=registered]')
      .waitFor({ timeout: 20_000 })
      .catch(async () => {
        throw new Error(`softphone not registered: it shows "${(await phoneStatus.innerText()).trim()}"`);
      });
    return { who, phone: (await phoneStatus.innerText()).trim(), state: await stateBadge.getAttribute('data-state') };
  },

  async ready() {
    await page.getByRole('button', { name: '签入' }).click();
    await state('available', 'after 签入 (log in)');
    return { state: (await stateBadge.innerText()).trim() };
  },

  /** pop waits for the offered call's screen pop and returns what it shows. */
  async pop({ caller, name, level, trace }) {
    await hasText(page.getByTestId('call-caller'), caller, 'caller number', 30_000);
    await hasText(page.getByTestId('customer-name'), name, 'customer name');
    await hasText(page.getByTestId('customer-level'), level, 'customer level');
    await hasText(page.getByTestId('trace-result'), trace, 'trace lookup result');
    return {
      caller: (await page.getByTestId('call-caller').innerText()).trim(),
      name: (await page.getByTestId('customer-name').innerText()).trim(),
      level: (await page.getByTestId('customer-level').innerText()).trim(),
      trace: (await page.getByTestId('trace-result').innerText()).trim(),
      pop: (await page.getByTestId('screen-pop').innerText()).trim(),
      state: await stateBadge.getAttribute('data-state'),
    };
  },

  /** ringing waits until the softphone rings (the INVITE of PJSIP/webrtc-<agent>). */
  async ringing({ caller }) {
    await hasText(page.getByTestId('call-panel'), '软电话振铃', 'softphone ringing', 30_000);
    return { panel: (await page.getByTestId('call-panel').innerText()).trim(), caller };
  },

  /** answer answers the ringing softphone with F2 (or the Answer button) and starts the recorder. */
  async answer({ key }) {
    if (key === 'button') await page.getByRole('button', { name: /接听/ }).click();
    else await page.keyboard.press('F2');
    await state('on_call', 'after answering');
    await hasText(page.locator('.phone'), '软电话通话中', 'softphone in a call');
    // The remote stream: the softphone plays it in its <audio> element.
    const handle = await page.waitForFunction(
      () => {
        const el = document.querySelector('section.phone audio');
        const s = el && el.srcObject;
        return s instanceof MediaStream && s.getAudioTracks().length > 0 ? true : false;
      },
      null,
      { timeout: 15_000 },
    );
    await handle.dispose();
    const info = await page.evaluate(async () => {
      const el = document.querySelector('section.phone audio');
      const stream = el.srcObject;
      const ctx = new AudioContext();
      const src = ctx.createMediaStreamSource(stream);
      // A ScriptProcessorNode, deprecated but enough here: an AudioWorklet needs a
      // module URL, and the desktop's CSP (script-src 'self') refuses blob: ones.
      const proc = ctx.createScriptProcessor(4096, 1, 1);
      const silent = ctx.createGain();
      silent.gain.value = 0;
      const rec = { ctx, stream, chunks: [], on: false };
      proc.onaudioprocess = (e) => {
        if (rec.on) rec.chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
      };
      src.connect(proc);
      proc.connect(silent);
      silent.connect(ctx.destination);
      window.__deske2eRecorder = { rec, src, proc }; // keep the nodes alive
      await ctx.resume();
      return { rate: ctx.sampleRate, ctx: ctx.state, paused: el.paused, tracks: stream.getAudioTracks().length };
    });
    return info;
  },

  /** record records ms of what the softphone receives: 16-bit PCM, base64. */
  async record({ ms }) {
    return page.evaluate(async (ms) => {
      const { rec } = window.__deske2eRecorder ?? {};
      if (!rec) throw new Error('no recorder: answer first');
      rec.chunks = [];
      rec.on = true;
      await new Promise((r) => setTimeout(r, ms));
      rec.on = false;
      const n = rec.chunks.reduce((a, c) => a + c.length, 0);
      const pcm = new Int16Array(n);
      let o = 0;
      for (const c of rec.chunks) for (let i = 0; i < c.length; i++) pcm[o++] = Math.max(-32768, Math.min(32767, Math.round(c[i] * 32767)));
      const bytes = new Uint8Array(pcm.buffer);
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      const track = rec.stream.getAudioTracks()[0];
      return { rate: rec.ctx.sampleRate, pcm: btoa(bin), ctx: rec.ctx.state, track: track ? track.readyState : 'none', muted: track ? track.muted : true };
    }, ms);
  },

  async hold() {
    const res = await clickFor(page.getByRole('button', { name: '保持', exact: true }), '/hold');
    if (res.status < 300) {
      await visible(page.getByRole('button', { name: '恢复', exact: true }), 'resume button after hold');
      await hasText(page.locator('#call-title'), '已保持', 'call title after hold');
    }
    return { ...res, toast: await toastText() };
  },

  async resume() {
    const res = await clickFor(page.getByRole('button', { name: '恢复', exact: true }), '/resume');
    if (res.status < 300) {
      await visible(page.getByRole('button', { name: '保持', exact: true }), 'hold button after resume');
      await hasText(page.locator('#call-title'), '通话中', 'call title after resume');
    }
    return { ...res, toast: await toastText() };
  },

  /** consult calls a colleague with the caller on hold and waits until they answer. */
  async consult({ kind, to }) {
    await page.getByLabel('目标').selectOption(kind);
    await page.getByLabel('号码/工号/队列').fill(to);
    const res = await clickFor(page.getByRole('button', { name: '咨询', exact: true }), '/transfer');
    if (res.status < 300) {
      await hasText(page.getByTestId('call-party'), '已接通', 'the consulted party answered', 20_000);
      await hasText(page.locator('#call-title'), '已保持', 'call title while consulting');
    }
    return { ...res, party: res.status < 300 ? (await page.getByTestId('call-party').innerText()).trim() : '', toast: await toastText() };
  },

  /** backToCaller ends the consultation: the caller talks to the agent again. */
  async backToCaller() {
    const res = await clickFor(page.getByRole('button', { name: '返回客户', exact: true }), '/resume');
    if (res.status < 300) {
      await page.getByTestId('call-party').waitFor({ state: 'detached' });
      await hasText(page.locator('#call-title'), '通话中', 'call title back with the caller');
    }
    return { ...res, toast: await toastText() };
  },

  async transfer({ kind, to }) {
    await page.getByLabel('目标').selectOption(kind);
    await page.getByLabel('号码/工号/队列').fill(to);
    const res = await clickFor(page.getByRole('button', { name: '转接', exact: true }), '/transfer');
    if (res.status < 300) await hasText(page.locator('.toast'), '已转接', 'transferred notice');
    return { ...res, toast: await toastText() };
  },

  /** hangup hangs up with F4 (the softphone sends BYE) and waits for the wrap-up form. */
  async hangup() {
    await page.keyboard.press('F4');
    await visible(page.getByTestId('wrapup-form'), 'wrap-up form after F4', 20_000);
    return { form: (await page.getByTestId('wrapup-form').innerText()).trim(), phone: await phoneStatus.getAttribute('data-status') };
  },

  /** wrapupForm waits for the wrap-up form (the agent's leg ended without F4, e.g. a transfer). */
  async wrapupForm() {
    await visible(page.getByTestId('wrapup-form'), 'wrap-up form', 20_000);
    return { form: (await page.getByTestId('wrapup-form').innerText()).trim(), state: await stateBadge.getAttribute('data-state') };
  },

  async wrapup({ disposition, notes, label }) {
    const form = page.getByTestId('wrapup-form');
    await visible(form, 'wrap-up form');
    await form.locator('select[name=disposition]').selectOption(disposition);
    await form.locator('textarea[name=notes]').fill(notes);
    await page.screenshot({ path: join(out, `${current}-filled.png`) });
    const res = await clickFor(page.getByRole('button', { name: '提交' }), '/wrapup');
    if (res.status >= 300) throw new Error(`POST wrapup: ${res.status} ${res.body}`);
    await form.waitFor({ state: 'detached' });
    const history = await hasText(page.getByTestId('history'), label, 'agent history shows the wrap-up');
    return { ...res, history };
  },

  async shot() {
    return {};
  },

  async state() {
    return {
      state: await stateBadge.getAttribute('data-state'),
      phone: await phoneStatus.getAttribute('data-status'),
      toast: await toastText(),
    };
  },
};

let n = 0;
let current = ''; // the running step's screenshot name
async function run(cmd) {
  const fn = ops[cmd.op];
  if (!fn) {
    reply({ id: cmd.id, ok: false, error: `unknown op ${cmd.op}` });
    return;
  }
  const t0 = Date.now();
  n++;
  const name = `${String(n).padStart(2, '0')}-${cmd.name || cmd.op}`;
  current = name;
  try {
    const data = await fn(cmd.args ?? {});
    const shot = join(out, `${name}.png`);
    await page.screenshot({ path: shot });
    log(`ok ${name} (${Date.now() - t0} ms)`);
    reply({ id: cmd.id, ok: true, data, shot });
  } catch (err) {
    const shot = join(out, `${name}-failed.png`);
    await page.screenshot({ path: shot }).catch(() => undefined);
    log(`FAILED ${name} (${Date.now() - t0} ms): ${err.message}`);
    reply({ id: cmd.id, ok: false, error: err.message, shot });
  }
}

reply({ id: 0, ok: true, data: { chromium: context.browser()?.version() ?? '' } });
const rl = createInterface({ input: process.stdin });
try {
  for await (const line of rl) {
    if (!line.trim()) continue;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      reply({ id: -1, ok: false, error: `bad command ${line}: ${err.message}` });
      continue;
    }
    if (cmd.op === 'close') {
      reply({ id: cmd.id, ok: true });
      break;
    }
    await run(cmd);
  }
} finally {
  await close();
}
