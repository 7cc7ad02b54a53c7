// The web UI in a real browser (docs/ui.md): node tests/ui/ui_test.mjs build/sluice [FILTER].
// Each case drives Chromium against one `sluice server`; the pages' screenshots go to
// docs/images/ui-*.png, or into the folder $SLUICE_UI_SCREENSHOTS names (scripts/test.sh: the
// build's, so that `make test` leaves the committed pictures alone).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fixture, axeSource, repo, runCases } from './harness.mjs';
import { APPROVAL, BREAKERS, CHAOS_TARGET, DELIVER, DIAMOND, EXPERIMENT, FAILING, GUARDED, LIVE, NO_PROD, STAGING, WIDE } from './pipelines.mjs';

const shots = process.env.SLUICE_UI_SCREENSHOTS || join(repo, 'docs', 'images');
async function shot(page, name, fullPage = false) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `ui-${name}.png`), fullPage });
}
function check(cond, what) { if (!cond) throw new Error(what); }

// A POST with the page's own session (cookie and CSRF header), as the page's script sends it.
async function postAsPage(page, path) {
  return page.evaluate(async (p) => {
    const me = await (await fetch('/ui/session')).json();
    return (await fetch(p, { method: 'POST', headers: { 'X-Sluice-CSRF': me.csrf, 'Content-Type': 'application/json' }, body: '{}' })).status;
  }, path);
}

async function noSeriousViolations(page, where) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document, {
    resultTypes: ['violations'] })).violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`));
  check(found.length === 0, `axe on ${where}: ${found.join(' | ')}`);
}

const cases = [
  ['logs in with a token, which becomes an HttpOnly SameSite=Strict cookie and never a URL', async (f) => {
    const context = await f.browser.newContext();
    const page = await context.newPage();
    const urls = [];
    page.on('request', (r) => urls.push(r.url()));
    await page.goto(f.url + '/');
    await shot(page, 'login');
    await page.getByLabel('API token').fill('sluice.0000000000000000.nope');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('API token').fill(f.tokens.alice);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    const cookies = await context.cookies();
    const s = cookies.find((c) => c.name === 'sluice_session');
    check(s && s.httpOnly && s.sameSite === 'Strict', `cookie: ${JSON.stringify(cookies)}`);
    check(!(await page.evaluate(() => document.cookie)).includes('sluice_session'), 'script reads the cookie');
    check(!urls.some((u) => u.includes(f.tokens.alice) || u.includes(f.tokens.alice.split('.')[2])), 'a URL holds the token');
    check(!urls.some((u) => !u.startsWith(f.url)), `a request left the server: ${urls.filter((u) => !u.startsWith(f.url))}`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
    const after = await fetch(f.url + '/api/v1/runs', { headers: { Cookie: `sluice_session=${s.value}` } });
    check(after.status === 401, `the cookie after logout: ${after.status}`);
    await context.close();
  }],

  ['refuses a forged cookie, and a cookie write without the session CSRF header', async (f) => {
    const forged = await fetch(f.url + '/api/v1/runs', { headers: { Cookie: 'sluice_session=' + 'ab'.repeat(32) } });
    check(forged.status === 401, `forged cookie: ${forged.status}`);
    const login = await fetch(f.url + '/ui/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: f.tokens.oscar }) });
    check(login.status === 200, `login: ${login.status}`);
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const { csrf } = await login.json();
    const runs = await fetch(f.url + '/api/v1/runs', { headers: { Cookie: cookie } });
    check(runs.status === 200, `a read with the cookie: ${runs.status}`);
    const path = f.url + '/api/v1/breakers/nothing/open';
    const none = await fetch(path, { method: 'POST', headers: { Cookie: cookie } });
    check(none.status === 403, `a write without CSRF: ${none.status}`);
    const wrong = await fetch(path, { method: 'POST', headers: { Cookie: cookie, 'X-Sluice-CSRF': csrf.replace(/.$/, '0') === csrf ? csrf.replace(/.$/, '1') : csrf.replace(/.$/, '0') } });
    check(wrong.status === 403, `a write with a wrong CSRF token: ${wrong.status}`);
    const right = await fetch(path, { method: 'POST', headers: { Cookie: cookie, 'X-Sluice-CSRF': csrf } });
    check(right.status === 404, `a write with the CSRF token reaches the handler (no such breaker): ${right.status}`);
    const form = await fetch(f.url + '/ui/login', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${f.tokens.oscar}` });
    check(form.status === 415, `a form post to login: ${form.status}`);
  }],

  ['watches a run finish live and opens its logs', async (f) => {
    const go = join(f.dir, 'go');
    const id = await f.submit(LIVE('live-run'), { go });
    await f.waitRun(id, (s) => s === 'running');
    const { context, page } = await f.loggedIn('alice');
    await page.locator(`tr[data-run="${id}"]`).waitFor();
    await page.locator(`tr[data-run="${id}"] a`).click();
    await page.locator('g.node[data-name="wait"][data-state="running"]').waitFor();
    check((await page.getByTestId('run-status').textContent()) === 'running', 'the run is not shown running');
    writeFileSync(go, '');
    await page.locator('[data-testid="run-status"]', { hasText: 'succeeded' }).waitFor();
    await page.locator('g.node[data-name="wait"][data-state="succeeded"]').waitFor();
    await page.locator('g.node[data-name="wait"]').click();
    await page.getByRole('heading', { name: /Task/ }).waitFor();
    await page.locator('[data-testid="log"]', { hasText: 'done-waiting' }).waitFor();
    check((await page.getByTestId('log').textContent()).includes('hello-from-wait'), 'the log misses its first line');
    await shot(page, 'task');
    await context.close();
  }],

  ['a new run appears in the runs list live, and its log follows while the task runs', async (f) => {
    const { context, page } = await f.loggedIn('alice');
    const go = join(f.dir, 'go-follow');
    const id = await f.submit(LIVE('followed'), { go });
    await page.locator(`tr[data-run="${id}"] .state-running`).waitFor();  // no reload: the stream
    await page.locator(`tr[data-run="${id}"] a`).click();
    await page.locator('g.node[data-name="wait"][data-state="running"]').waitFor();
    await page.locator('g.node[data-name="wait"]').click();
    await page.locator('[data-testid="log"]', { hasText: 'hello-from-wait' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'following' }).waitFor();
    check(!(await page.getByTestId('log').textContent()).includes('done-waiting'), 'the task ended early');
    writeFileSync(go, '');
    await page.locator('[data-testid="log"]', { hasText: 'done-waiting' }).waitFor();
    await page.goBack();
    await page.locator('g.node[data-name="wait"][data-state="succeeded"]').waitFor();
    await context.close();
  }],

  ['draws the DAG with its nodes and edges, the forEach group collapsed until opened', async (f) => {
    const id = await f.submit(DIAMOND);
    await f.waitRun(id, (s) => s === 'succeeded');
    const { context, page } = await f.loggedIn('alice');
    await page.goto(`${f.url}/#/runs/${id}`);
    await page.locator('g.node[data-name="d"][data-state="succeeded"]').waitFor();
    const count = async () => [await page.locator('svg.dag g.node').count(), await page.locator('svg.dag path.edge').count()];
    let [nodes, edges] = await count();
    check(nodes === 5 && edges === 5, `collapsed: ${nodes} nodes, ${edges} edges (want 5, 5)`);
    await page.locator('g.node[data-name="fan"]').click();
    await page.locator('g.node[data-name="fan[2]"]').waitFor();
    [nodes, edges] = await count();
    check(nodes === 8 && edges === 8, `expanded: ${nodes} nodes, ${edges} edges (want 8, 8)`);
    await shot(page, 'run');
    await context.close();
  }],

  ['approves as an approver, and a viewer is refused', async (f) => {
    const id = await f.submit(APPROVAL);
    await f.waitRun(id, (s) => s === 'awaiting-approval' || s === 'running');
    const viewer = await f.loggedIn('vera');
    await viewer.page.getByRole('link', { name: 'Approvals' }).click();
    await viewer.page.locator('tr[data-approval="sign-off"]').waitFor();
    check(await viewer.page.getByRole('button', { name: 'Approve' }).count() === 0, 'a viewer sees Approve');
    check((await viewer.page.locator('tr[data-approval="sign-off"]').textContent()).includes('viewing only'), 'no viewing-only note');
    const denied = await viewer.page.evaluate(async ([run]) => {
      const me = await (await fetch('/ui/session')).json();
      const r = await fetch(`/api/v1/runs/${run}/tasks/sign-off/approve`, { method: 'POST',
        headers: { 'X-Sluice-CSRF': me.csrf, 'Content-Type': 'application/json' }, body: '{}' });
      return r.status;
    }, [id]);
    check(denied === 403, `a viewer's approve: ${denied}`);
    await viewer.page.goto(`${f.url}/#/runs/${id}`);
    await viewer.page.getByRole('heading', { name: /Run/ }).waitFor();
    check(await viewer.page.getByRole('button', { name: 'Cancel' }).count() === 0, 'a viewer sees Cancel');
    await viewer.context.close();

    const { context, page } = await f.loggedIn('carol');
    await page.getByRole('link', { name: 'Approvals' }).click();
    await page.locator('tr[data-approval="sign-off"]').waitFor();
    await shot(page, 'approvals');
    await page.locator('tr[data-approval="sign-off"]').getByRole('button', { name: 'Approve' }).click();
    await page.getByTestId('vote-result').waitFor();
    check((await page.getByTestId('vote-result').textContent()).includes('approved by carol'), 'no vote result');
    await f.waitRun(id, (s) => s === 'succeeded');
    await context.close();
  }],

  ['shows outputs, downloads an artifact, the error class, and reruns as an operator', async (f) => {
    const id = await f.submit(FAILING);
    await f.waitRun(id, (s) => s === 'failed');
    const { context, page } = await f.loggedIn('oscar');
    await page.goto(`${f.url}/#/runs/${id}/tasks/make`);
    await page.getByRole('link', { name: 'model' }).waitFor();
    check((await page.locator('pre.json').first().textContent()).includes('0.93'), 'no output param');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'model' }).click()]);
    const { readFileSync } = await import('node:fs');
    check(readFileSync(await download.path(), 'utf8') === 'model-bytes', 'the artifact downloaded differs');
    await page.goto(`${f.url}/#/runs/${id}/tasks/broken`);
    await page.getByTestId('error-class').first().waitFor();
    const cls = await page.getByTestId('error-class').first().textContent();
    check(cls.includes('exit'), `error class: ${cls}`);
    await page.goto(`${f.url}/#/runs/${id}`);
    await page.getByRole('button', { name: 'Retry failed tasks' }).waitFor();
    await page.getByRole('button', { name: 'Rerun' }).click();
    await page.waitForFunction((old) => location.hash.startsWith('#/runs/') && !location.hash.includes(old), id);
    const rerun = decodeURIComponent(await page.evaluate(() => location.hash.split('/')[2]));
    const doc = await f.waitRun(rerun, (s) => s === 'failed');
    check(doc.pipeline === 'fails-after-model', 'the rerun is of another pipeline');
    await context.close();
  }],

  ['lists schedules; an operator suspends one, a viewer has no buttons', async (f) => {
    const schedule = `apiVersion: sluice/v1
kind: Schedule
metadata: {name: yearly}
spec: {pipeline: pipeline.yaml, cron: "0 3 1 1 *", timeZone: UTC}
`;
    const put = await f.api('oscar', 'PUT', '/api/v1/namespaces/default/schedules',
      { schedule: 'schedule.yaml', files: { 'schedule.yaml': schedule, 'pipeline.yaml': DIAMOND } });
    check(put.status === 200 || put.status === 201, `apply: ${put.status} ${JSON.stringify(put.data)}`);
    const viewer = await f.loggedIn('vera');
    await viewer.page.getByRole('link', { name: 'Schedules' }).click();
    await viewer.page.getByRole('cell', { name: 'yearly' }).waitFor();
    check(await viewer.page.getByRole('button', { name: 'Suspend' }).count() === 0, 'a viewer sees Suspend');
    await viewer.context.close();
    const { context, page } = await f.loggedIn('oscar');
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    const listed = await f.api('alice', 'GET', '/api/v1/namespaces/default/schedules');
    check(listed.data.items.find((x) => x.name === 'yearly').suspended === true, 'the schedule is not suspended');
    await shot(page, 'schedules');
    await context.close();
  }],

  ['the main pages have no serious or critical axe violations', async (f) => {
    const { context, page } = await f.loggedIn('alice', { bypassCSP: true });  // axe is injected
    const go = join(f.dir, 'go-at-once');
    writeFileSync(go, '');
    const done = { id: await f.submit(LIVE('axe-run'), { go }) };
    await f.waitRun(done.id, (s) => s === 'succeeded');
    await page.locator(`tr[data-run="${done.id}"] .state-succeeded`).waitFor();
    await noSeriousViolations(page, 'runs');
    await shot(page, 'runs');
    await page.goto(`${f.url}/#/runs/${done.id}`);
    await page.locator('g.node[data-name="wait"]').waitFor();
    await noSeriousViolations(page, 'run');
    await page.goto(`${f.url}/#/runs/${done.id}/tasks/wait`);
    await page.locator('[data-testid="log"]', { hasText: 'done-waiting' }).waitFor();
    await noSeriousViolations(page, 'task');
    await page.goto(`${f.url}/#/approvals`);
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    await noSeriousViolations(page, 'approvals');
    await page.goto(`${f.url}/#/audit`);
    await page.getByTestId('audit-verify').waitFor();
    await noSeriousViolations(page, 'audit');
    await shot(page, 'audit');
    await page.goto(`${f.url}/#/schedules`);
    await page.getByRole('heading', { name: 'Schedules' }).waitFor();
    await noSeriousViolations(page, 'schedules');
    await context.close();
    const login = await (await f.browser.newContext({ bypassCSP: true })).newPage();
    await login.goto(f.url + '/');
    await login.getByLabel('API token').waitFor();
    await noSeriousViolations(login, 'login');
    await login.context().close();
  }],

  ['filters the runs by pipeline, status, label and time', async (f) => {
    // A webhook trigger's runs carry its labels; a run submitted over the API has none.
    const trigger = `apiVersion: sluice/v1
kind: Trigger
metadata: {name: labelled, labels: {team: ui}}
spec: {pipeline: pipeline.yaml}
`;
    const put = await f.api('oscar', 'PUT', '/api/v1/namespaces/default/triggers',
      { trigger: 'trigger.yaml', files: { 'trigger.yaml': trigger, 'pipeline.yaml': DIAMOND } });
    check(put.status < 300, `apply: ${put.status} ${JSON.stringify(put.data)}`);
    const hook = await fetch(`${f.url}/api/v1/namespaces/default/triggers/labelled`, { method: 'POST',
      headers: { Authorization: `Bearer ${put.data.applied[0].token}`, 'Content-Type': 'application/json' }, body: '{}' });
    const fired = { status: hook.status, data: await hook.json() };
    check(fired.status === 201, `the webhook: ${fired.status} ${JSON.stringify(fired.data)}`);
    fired.data.id = fired.data.run;
    await f.waitRun(fired.data.id, (s) => s === 'succeeded');
    const { context, page } = await f.loggedIn('vera');
    const all = (await f.api('alice', 'GET', '/api/v1/runs')).data.items;
    const rows = async () => page.locator('table.runs tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset.run));
    await page.locator('table.runs tbody tr').first().waitFor();
    check((await rows()).length === all.length, 'not every run is listed');
    await page.getByLabel('Status').selectOption('succeeded');
    const failed = all.filter((r) => r.status === 'succeeded').map((r) => r.id);
    await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n, failed.length);
    check(JSON.stringify(await rows()) === JSON.stringify(failed), 'the status filter');
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Label').fill('team=ui');
    const labelled = [fired.data.id];
    await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n, labelled.length);
    check(JSON.stringify(await rows()) === JSON.stringify(labelled), 'the label filter');
    await page.getByLabel('Label').fill('');
    await page.getByLabel('Pipeline').fill('diamo');
    const diamonds = all.filter((r) => r.pipeline === 'diamond').length;
    await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n, diamonds);
    await page.getByLabel('Pipeline').fill('');
    await page.getByLabel('Started').selectOption('1h');  // every run here started just now
    check((await rows()).length === all.length, 'the time filter hides recent runs');
    await context.close();
  }],

  ['the main controls are reached and used with the keyboard', async (f) => {
    const context = await f.browser.newContext();
    const page = await context.newPage();
    await page.goto(f.url + '/');
    await page.getByLabel('API token').waitFor();
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement.id) === 'token', 'Tab does not reach the token field');
    await page.keyboard.type(f.tokens.alice);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    const reached = new Set();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => {
        const e = document.activeElement;
        return e.getAttribute('name') || e.textContent.trim().slice(0, 20);
      }));
    }
    for (const want of ['Runs', 'Approvals', 'Breakers', 'Log out', 'pipeline', 'status', 'label', 'since']) {
      check(reached.has(want), `Tab never reaches ${want}: ${[...reached].join(', ')}`);
    }
    const diamond = { id: await f.submit(DIAMOND) };
    await f.waitRun(diamond.id, (s) => s === 'succeeded');
    await page.goto(`${f.url}/#/runs/${diamond.id}`);
    await page.locator('g.node[data-name="b"]').waitFor();
    await page.locator('g.node[data-name="b"]').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Task b' }).waitFor();
    await context.close();
  }],

  ['a 10,000-task run keeps at most a few hundred task rows in the DOM', async (f) => {
    const id = await f.submit(WIDE, { items: Array.from({ length: 10000 }, (_, i) => i) });
    await f.waitRun(id, (s) => s === 'succeeded');
    const { context, page } = await f.loggedIn('alice');
    await page.goto(`${f.url}/#/runs/${id}`);
    await page.getByRole('heading', { name: /Tasks \(10001\)/ }).waitFor();
    const rows = () => page.locator('.vrow').count();
    check(await rows() <= 300, `rows at the top: ${await rows()}`);
    await page.locator('.vlist').evaluate((e) => { e.scrollTop = e.scrollHeight; });
    await page.locator('.vrow', { hasText: 'each[9999]' }).waitFor();
    check(await rows() <= 300, `rows at the end: ${await rows()}`);
    check(await page.locator('svg.dag g.node').count() <= 30, 'the DAG draws every item');
    await context.close();
  }],

  ['lists chaos experiments with their outcome; one opens with its journal and its report', async (f) => {
    writeFileSync(join(f.dir, 'chaos-target.yaml'), CHAOS_TARGET);
    for (const [name, fault, rc] of [['holds', '{exit: 75, task: step, attempt: 1}', 0], ['deviates', '{exit: 1, task: last}', 1]]) {
      writeFileSync(join(f.dir, `${name}.yaml`), EXPERIMENT(name, fault));
      const p = spawnSync(f.sluice, ['--state-dir', f.state, 'chaos', 'run', `${name}.yaml`], { cwd: f.dir, encoding: 'utf8', timeout: 180000 });
      check(p.status === rc, `chaos run ${name}: exit ${p.status}: ${p.stderr}`);
    }
    const { context, page } = await f.loggedIn('vera', { bypassCSP: true });  // a viewer reads them; axe is injected
    const urls = [];
    context.on('request', (r) => urls.push(r.url()));
    await page.getByRole('link', { name: 'Chaos' }).click();
    await page.getByRole('heading', { name: 'Chaos experiments' }).waitFor();
    await page.locator('tr[data-experiment]').nth(1).waitFor();
    const rows = await page.locator('tr[data-experiment]').evaluateAll((trs) => trs.map((t) => t.textContent));
    check(rows.length === 2, `experiments listed: ${rows.length}`);
    check(rows.some((r) => r.includes('deviates') && r.includes('completed, deviated')), `no deviated outcome: ${rows}`);
    check(rows.some((r) => r.includes('holds') && r.includes('completed') && !r.includes('deviated')), `no held outcome: ${rows}`);
    await noSeriousViolations(page, 'chaos');
    // The keyboard reaches an experiment's link and opens it.
    const id = await page.locator('tr[data-experiment] a', { hasText: 'holds' }).textContent();
    await page.locator('tr[data-experiment] a', { hasText: 'holds' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Experiment holds' }).waitFor();
    check((await page.getByTestId('outcome').textContent()) === 'completed', 'the outcome');
    check((await page.getByTestId('hypothesis').textContent()).includes('value == 1.0'), 'the hypothesis');
    for (const phase of ['before', 'during', 'after']) await page.locator(`tr[data-phase="${phase}"]`).waitFor();
    check((await page.locator('tr[data-phase="during"] td').last().textContent()) === 'met', 'the during phase');
    check((await page.getByTestId('faults').textContent()).includes('the-fault'), 'the fault');
    // The report, framed and in a tab of its own, reaches the server with the session cookie only.
    const report = page.frameLocator('iframe.report');
    await report.getByRole('heading', { name: 'Resilience report', exact: true }).waitFor();
    check((await report.locator('body').textContent()).includes('holds'), 'the report is of another experiment');
    await noSeriousViolations(page, 'experiment');
    await shot(page, 'chaos', true);  // with the framed report below the journal
    const [tab] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: 'Open the report in a tab' }).click()]);
    await tab.getByRole('heading', { name: 'Resilience report', exact: true }).waitFor();
    check(tab.url() === `${f.url}/api/v1/chaos/experiments/${encodeURIComponent(id)}/report`, `the tab: ${tab.url()}`);
    check(!urls.some((u) => u.includes(f.tokens.vera.split('.')[2])), 'a URL holds the token');
    const missing = await page.evaluate(async () => (await fetch('/api/v1/chaos/experiments/..%2F..%2Fpolicies/report')).status);
    check(missing === 404, `a traversal: ${missing}`);
    await context.close();
  }],

  ['an operator opens and closes a breaker; a viewer has no buttons and is refused', async (f) => {
    const r = await f.api('alice', 'POST', '/api/v1/namespaces/default/runs',
      { pipeline: 'pipeline.yaml', files: { 'pipeline.yaml': GUARDED, 'breakers.yaml': BREAKERS } });
    check(r.status === 201, `submit: ${r.status} ${JSON.stringify(r.data)}`);
    await f.waitRun(r.data.id, (s) => s === 'succeeded');
    const viewer = await f.loggedIn('vera');
    await viewer.page.getByRole('link', { name: 'Breakers' }).click();
    await viewer.page.locator('tr[data-breaker="flaky-api"]').waitFor();
    check(await viewer.page.locator('tr[data-breaker="flaky-api"] button').count() === 0, 'a viewer sees buttons');
    const denied = await postAsPage(viewer.page, '/api/v1/breakers/flaky-api/open');
    check(denied === 403, `a viewer's open: ${denied}`);
    await viewer.context.close();
    const { context, page } = await f.loggedIn('oscar');
    await page.getByRole('link', { name: 'Breakers' }).click();
    const row = page.locator('tr[data-breaker="flaky-api"]');
    await row.getByTestId('breaker-state').filter({ hasText: /^closed$/ }).waitFor();
    await row.getByRole('button', { name: 'open', exact: true }).click();
    await row.getByTestId('breaker-state').filter({ hasText: /^forced-open$/ }).waitFor();
    const opened = (await f.api('alice', 'GET', '/api/v1/breakers')).data.items.find((b) => b.name === 'flaky-api');
    check(opened.state === 'forced-open', `after open: ${opened.state}`);
    await shot(page, 'breakers');
    await row.getByRole('button', { name: 'close', exact: true }).click();
    await row.getByTestId('breaker-state').filter({ hasText: /^closed$/ }).waitFor();
    const closed = (await f.api('alice', 'GET', '/api/v1/breakers')).data.items.find((b) => b.name === 'flaky-api');
    check(closed.state === 'closed', `after close: ${closed.state}`);
    await context.close();
  }],

  ['lists the waivers in force', async (f) => {
    const policies = join(f.state, 'policies');
    mkdirSync(policies, { recursive: true });
    chmodSync(policies, 0o755);
    writeFileSync(join(policies, 'no-prod.yaml'), NO_PROD);
    chmodSync(join(policies, 'no-prod.yaml'), 0o644);
    const granted = await f.api('alice', 'POST', '/api/v1/waivers', { name: 'hotfix', policy: 'no-prod',
      justification: 'incident 42 needs prod', expires: '2099-12-31' });
    check(granted.status === 201, `grant: ${granted.status} ${JSON.stringify(granted.data)}`);
    const { context, page } = await f.loggedIn('vera', { bypassCSP: true });
    await page.getByRole('link', { name: 'Waivers' }).click();
    const row = page.locator('tr[data-waiver="hotfix"]');
    await row.waitFor();
    const text = await row.textContent();
    for (const want of ['no-prod', 'alice', 'incident 42 needs prod', '2099-12-31']) check(text.includes(want), `the waiver's row lacks ${want}: ${text}`);
    await noSeriousViolations(page, 'waivers');
    await page.getByRole('link', { name: 'Breakers' }).click();
    await page.getByRole('heading', { name: 'Breakers' }).waitFor();
    await noSeriousViolations(page, 'breakers');
    await context.close();
  }],

  ['an approver promotes a paused canary and an operator aborts one; a viewer has no buttons', async (f) => {
    const envs = join(f.state, 'environments');
    mkdirSync(envs, { recursive: true });
    writeFileSync(join(envs, 'ui-staging.yaml'), STAGING);
    chmodSync(join(envs, 'ui-staging.yaml'), 0o644);
    const deliver = async (version) => {
      const model = join(f.dir, `${version}.json`);
      writeFileSync(model, JSON.stringify({ version }));
      return f.submit(DELIVER, { model, version });
    };
    const paused = async (id) => {
      for (let i = 0; i < 600; i++) {
        const r = await f.api('alice', 'GET', `/api/v1/runs/${id}/rollouts/deploy`);
        if (r.status === 200 && r.data.phase === 'Paused') return;
        await new Promise((ok) => setTimeout(ok, 100));
      }
      throw new Error(`the rollout of ${id} never paused`);
    };
    const first = await deliver('v1');  // the first release: nothing to canary against
    const done = await f.waitRun(first, (s) => ['succeeded', 'failed'].includes(s));
    check(done.status === 'succeeded', `the first release: ${done.status}`);
    const promoted = await deliver('v2');
    await paused(promoted);
    const viewer = await f.loggedIn('vera');
    await viewer.page.goto(`${f.url}/#/runs/${promoted}/tasks/deploy`);
    await viewer.page.getByRole('heading', { name: 'Rollout' }).waitFor();
    check(await viewer.page.locator('.actions button').count() === 0, 'a viewer sees rollout buttons');
    await viewer.context.close();
    const approver = await f.loggedIn('carol', { bypassCSP: true });  // axe is injected
    await approver.page.goto(`${f.url}/#/runs/${promoted}/tasks/deploy`);
    await approver.page.getByRole('heading', { name: 'Rollout' }).waitFor();
    await noSeriousViolations(approver.page, 'rollout');
    check(await approver.page.getByRole('button', { name: 'Abort' }).count() === 0, 'an approver sees Abort');
    await shot(approver.page, 'rollout');
    await approver.page.getByRole('button', { name: 'Promote' }).click();
    await approver.page.getByRole('status').filter({ hasText: 'promote: sent' }).waitFor();
    check((await f.waitRun(promoted, (s) => ['succeeded', 'failed'].includes(s))).status === 'succeeded', 'the promoted run');
    await approver.page.reload();
    await approver.page.locator('.summary dd', { hasText: /^Healthy$/ }).waitFor();
    await approver.context.close();
    const aborted = await deliver('v3');
    await paused(aborted);
    const { context, page } = await f.loggedIn('oscar');
    await page.goto(`${f.url}/#/runs/${aborted}/tasks/deploy`);
    await page.getByRole('heading', { name: 'Rollout' }).waitFor();
    check(await page.getByRole('button', { name: 'Promote' }).count() === 0, 'an operator sees Promote');
    await page.getByRole('button', { name: 'Abort' }).click();
    await page.getByRole('status').filter({ hasText: 'abort: sent' }).waitFor();
    check((await f.waitRun(aborted, (s) => ['succeeded', 'failed'].includes(s))).status === 'failed', 'the aborted run');
    const r = await f.api('alice', 'GET', `/api/v1/runs/${aborted}/rollouts/deploy`);
    check(r.data.phase === 'Degraded' && r.data.lastCommandBy === 'oscar', `after abort: ${JSON.stringify(r.data).slice(0, 300)}`);
    await context.close();
  }],
];

if (!existsSync(process.argv[2] || '')) {
  console.error('usage: node tests/ui/ui_test.mjs build/sluice [FILTER]');
  process.exit(2);
}
await runCases(new Fixture(process.argv[2]), cases, process.argv[3]);
