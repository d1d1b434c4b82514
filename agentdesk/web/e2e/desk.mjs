// Drives the agent desktop in Debian's Chromium with playwright-core (never a
// downloaded browser). Run by agentdesk/web/web_test.go against a fake ccd:
//
//   DESK_URL=http://127.0.0.1:port ARTIFACTS=/dir node e2e/desk.mjs
//
// Each step checks what the page shows and leaves a screenshot NN-step.png
// in ARTIFACTS. Exit status 1 on the first failure (failure.png).

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './chromium.mjs';

const base = process.env.DESK_URL;
const out = process.env.ARTIFACTS ?? tmpdir();
const user = process.env.DESK_USER ?? 'alice';
const password = process.env.DESK_PASSWORD ?? '';
if (!base) {
  console.error('DESK_URL is required');
  process.exit(2);
}

const { context, close } = await launch('desk');
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(10_000);

const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  // The 401s of /me before login and of the wrong password are expected.
  if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console error: ${m.text()}`);
});

let n = 0;
async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  n++;
  const file = join(out, `${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  console.log(`ok ${n} ${name} (${Date.now() - t0} ms) ${file}`);
}

async function hook(path) {
  const res = await fetch(base + path, { method: 'POST' });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

const expect = async (locator, what) => {
  await locator.waitFor({ state: 'visible' }).catch((e) => {
    throw new Error(`${what}: not visible: ${e.message.split('\n')[0]}`);
  });
};

async function hasText(locator, text, what) {
  await expect(locator, what);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = (await locator.innerText()).trim();
    if (got.includes(text)) return;
    if (Date.now() > deadline) throw new Error(`${what}: shows "${got}", want "${text}"`);
    await page.waitForTimeout(50);
  }
}

const stateBadge = page.getByTestId('agent-state');

try {
  await step('login', async () => {
    await page.goto(`${base}/desk/`);
    await expect(page.getByRole('heading', { name: '坐席登录' }), 'login form');
    await page.locator('input[name=username]').fill(user);
    await page.locator('input[name=password]').fill('wrong password');
    await page.getByRole('button', { name: '登录' }).click();
    await hasText(page.getByRole('alert'), '用户名或密码错误', 'wrong password message');
    await page.locator('input[name=password]').fill(password);
  });

  await step('agent-view', async () => {
    await page.getByRole('button', { name: '登录' }).click();
    await hasText(page.getByTestId('who'), '李娜', 'user name in the header');
    await hasText(page.getByTestId('who'), '1001', 'agent id in the header');
    await page.locator('[data-testid=conn-status][data-conn=open]').waitFor();
    await hasText(stateBadge, '未签入', 'initial state logged out');
    await page.locator('[data-testid=phone-status][data-status=registered]').waitFor();
    await hasText(page.getByTestId('phone-status'), '已注册', 'softphone registered');
    await hasText(page.locator('.keys'), 'F2', 'shortcuts documented');
  });

  await step('ready', async () => {
    await page.getByRole('button', { name: '签入' }).click();
    await hasText(stateBadge, '空闲', 'available after log in');
    await page.getByLabel('小休原因').selectOption('lunch');
    await page.getByRole('button', { name: '小休', exact: true }).click();
    await hasText(stateBadge, '小休', 'paused');
    await hasText(page.locator('.card', { has: stateBadge }), '午餐', 'pause reason');
    await page.getByRole('button', { name: '就绪' }).click();
    await hasText(stateBadge, '空闲', 'available again');
  });

  await step('screen-pop', async () => {
    await hook('/test/offer?call=call-1&caller=13800138000');
    await hasText(stateBadge, '振铃', 'reserved');
    await hasText(page.getByTestId('call-caller'), '13800138000', 'caller number');
    await hasText(page.getByTestId('customer-name'), '王建国', 'customer name');
    await hasText(page.getByTestId('customer-level'), 'VIP 客户', 'customer level');
    await hasText(page.getByTestId('trace-result'), '绿野养殖场', 'trace lookup result');
    await hasText(page.getByTestId('screen-pop'), '6901234567892', 'trace code');
    await hasText(page.getByTestId('screen-pop'), '2>1>0', 'IVR menu path');
    await hasText(page.getByTestId('screen-pop'), '询问追溯码位置', 'last interactions');
    await hasText(page.getByTestId('call-panel'), 'trace', 'queue');
    await hasText(page.getByTestId('call-panel'), '0:12', 'time waited');
  });

  await step('on-call', async () => {
    await page.keyboard.press('F2');
    await hasText(stateBadge, '通话中', 'on call after F2');
    await page.getByRole('button', { name: '保持' }).click();
    await expect(page.getByRole('button', { name: '恢复' }), 'resume button after hold');
    await hasText(page.locator('#call-title'), '已保持', 'held');
  });

  await step('wrapup', async () => {
    await page.keyboard.press('F4');
    await expect(page.getByTestId('wrapup-form'), 'wrap-up form after F4');
    await hasText(stateBadge, '话后处理', 'wrap-up state');
    await hasText(page.getByTestId('wrapup-form'), '13800138000', 'wrap-up names the call');
    await page.locator('select[name=disposition]').selectOption('trace_answered');
    await page.locator('textarea[name=notes]').fill('已告知产地与检疫信息');
  });

  await step('after-wrapup', async () => {
    await page.getByRole('button', { name: '提交' }).click();
    await page.getByTestId('wrapup-form').waitFor({ state: 'detached' });
    await hasText(stateBadge, '空闲', 'available after wrap-up');
    await hasText(page.getByTestId('history'), '追溯查询已答复', 'history shows the wrap-up');
  });

  await step('reconnected', async () => {
    // The stream drops and the state changes meanwhile, without an event:
    // only fetching the state again on reconnect can show it.
    await hook('/test/drop?state=paused&reason=training');
    await hasText(stateBadge, '小休', 'state fetched after the reconnect');
    await hasText(page.locator('.card', { has: stateBadge }), '培训', 'reason fetched after the reconnect');
    await page.locator('[data-testid=conn-status][data-conn=open]').waitFor();
  });

  await step('english', async () => {
    await page.getByTestId('lang-switch').click();
    await hasText(stateBadge, 'Paused', 'state in English');
    await expect(page.getByRole('heading', { name: 'Agent state' }), 'English heading');
    await hasText(page.getByTestId('phone-status'), 'Registered', 'softphone in English');
  });

  await step('new-caller', async () => {
    await page.getByRole('button', { name: 'Ready' }).click();
    await hasText(stateBadge, 'Ready', 'ready in English');
    await hook('/test/offer?call=call-2&caller=13900000002&new=1');
    await expect(page.getByTestId('new-caller'), 'new caller form');
    await page.getByLabel('Name').fill('赵新');
    await page.getByLabel('Level', { exact: true }).selectOption('company');
    await page.getByLabel('Company').fill('绿野生鲜');
    await page.getByRole('button', { name: 'Save customer' }).click();
    await hasText(page.getByTestId('customer-name'), '赵新', 'new customer shown');
    await hasText(page.getByTestId('customer-level'), 'Company', 'new customer level');
  });

  await step('layout-1366x768', async () => {
    const { sw, sh, iw, ih } = await page.evaluate(() => ({
      sw: document.documentElement.scrollWidth,
      sh: document.documentElement.scrollHeight,
      iw: window.innerWidth,
      ih: window.innerHeight,
    }));
    if (sw > iw || sh > ih) throw new Error(`the page scrolls at 1366×768: ${sw}×${sh} in ${iw}×${ih}`);
    // The language choice survives a reload, and so does the session.
    await page.reload();
    await hasText(stateBadge, 'Ringing', 'state after reload');
    await hasText(page.getByTestId('who'), '李娜', 'still logged in after reload');
    // The offer's caller comes from the screen pop fetched again (GET /api/v1/calls/{id}/screen-pop).
    await hasText(page.getByTestId('call-caller'), '13900000002', 'screen pop fetched after reload');
    await hasText(page.getByTestId('agent-state'), 'Ringing', 'state after reload');
  });

  await step('softphone-ringing', async () => {
    await page.locator('[data-testid=phone-status][data-status=registered]').waitFor();
    await hook('/test/ring?call=call-2&caller=13900000002');
    await hasText(page.getByTestId('call-panel'), 'Softphone ringing: 13900000002', 'the softphone rings, not answered by itself');
    await expect(page.getByRole('button', { name: 'Decline' }), 'decline button');
  });

  await step('softphone-call', async () => {
    await page.keyboard.press('F2'); // answers the ringing softphone (getUserMedia on 127.0.0.1)
    await hasText(stateBadge, 'On call', 'on call after answering on the softphone');
    await hasText(page.locator('.phone'), 'Softphone in a call', 'softphone in a call');
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    await hasText(page.locator('.phone'), 'Muted', 'muted');
  });

  await step('softphone-hangup', async () => {
    await page.keyboard.press('F4'); // hangs up on the softphone: BYE
    await expect(page.getByTestId('wrapup-form'), 'wrap-up form after the softphone hung up');
    await hasText(stateBadge, 'Wrap-up', 'wrap-up state');
    await hasText(page.getByTestId('phone-status'), 'Registered', 'softphone idle again');
  });

  if (problems.length) throw new Error(`the page reported errors:\n${problems.join('\n')}`);
  console.log(`all ${n} steps passed`);
} catch (err) {
  console.error(`FAILED after step ${n}: ${err.message}`);
  if (problems.length) console.error(problems.join('\n'));
  await page.screenshot({ path: join(out, 'failure.png') }).catch(() => undefined);
  process.exitCode = 1;
} finally {
  await close();
}
