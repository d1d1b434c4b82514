// The browser half of the screen pop benchmark (test/bench/screenpop_test.go):
// Debian's Chromium through playwright-core (never a downloaded browser) logs
// an agent in to the real desktop and reports the moment each call's screen
// pop appears on the page.
//
//   DESK_URL=http://127.0.0.1:port DESK_USER=u DESK_PASSWORD=p node e2e/screenpop-bench.mjs
//
// It prints "ready" once the agent's event stream is open, then one line per
// screen pop:
//
//   pop <call id> <in the DOM> <next animation frame>
//
// both times in milliseconds since the Unix epoch (performance.timeOrigin +
// performance.now(), the machine's clock, as the server's event times). A
// MutationObserver notes when a [data-testid=screen-pop] element with the
// call's data-call-id is added; the next requestAnimationFrame callback is the
// frame that paints it. It runs until its standard input closes.

import { launch, softphoneArgs } from './chromium.mjs';

const base = process.env.DESK_URL;
const user = process.env.DESK_USER ?? '';
const password = process.env.DESK_PASSWORD ?? '';
if (!base || !user) {
  console.error('DESK_URL and DESK_USER are required');
  process.exit(2);
}

const browser = await launch('popbench', softphoneArgs);
const { context } = browser;

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  process.exitCode = code;
  await browser.close();
}

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.exposeFunction('__ccdPopSeen', (id, dom, frame) => {
    console.log(`pop ${id} ${dom.toFixed(3)} ${frame.toFixed(3)}`);
  });

  await page.goto(`${base}/desk/`);
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(password);
  await page.locator('input[name=password]').press('Enter');
  await page.locator('[data-testid=conn-status][data-conn=open]').waitFor();
  await page.evaluate(() => {
    const now = () => performance.timeOrigin + performance.now();
    const sel = '[data-testid=screen-pop][data-call-id]';
    const seen = new Set();
    const note = (el, t) => {
      const id = el.getAttribute('data-call-id');
      if (!id || seen.has(id)) return;
      seen.add(id);
      requestAnimationFrame(() => window.__ccdPopSeen(id, t, now()));
    };
    new MutationObserver((records) => {
      const t = now();
      for (const r of records) {
        if (r.type === 'attributes') {
          if (r.target instanceof Element && r.target.matches(sel)) note(r.target, t);
          continue;
        }
        for (const n of r.addedNodes) {
          if (!(n instanceof Element)) continue;
          if (n.matches(sel)) note(n, t);
          for (const el of n.querySelectorAll(sel)) note(el, t);
        }
      }
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-call-id'] });
  });
  // The agent works in the page: its softphone rings (ccd rings the
  // registered browser), the script answers with F2 after 200 ms and hangs
  // up with F4 200 ms later, like a quick agent.
  void (async () => {
    const answer = page.locator('button.answer');
    for (;;) {
      try {
        await answer.waitFor({ timeout: 0 });
        await page.waitForTimeout(200);
        await page.keyboard.press('F2');
        await page.waitForTimeout(200);
        await page.keyboard.press('F4');
        await answer.waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
      } catch {
        return; // the page is closing
      }
    }
  })();
  console.log('ready');
  process.stdin.resume();
  process.stdin.on('end', () => void close(0));
  process.stdin.on('close', () => void close(0));
} catch (err) {
  console.error(`FAILED: ${err.message}`);
  await close(1);
}
