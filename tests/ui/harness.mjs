// The UI suite's fixture: one `sluice server` on a fresh state folder for the whole suite, its
// tokens (one per role), runs submitted over the API, and Chromium (Debian's, driven by
// playwright-core; no browser is downloaded). Everything it starts it stops in close().
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
const require = createRequire(join(repo, 'ui', 'package.json'));
const { chromium } = require('playwright-core');
export const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export class Fixture {
  constructor(sluice) {
    this.sluice = resolve(sluice);
    this.dir = mkdtempSync(join(tmpdir(), 'sluice-ui-test-'));
    this.state = join(this.dir, 'state');
    this.tokens = {};
  }

  cli(args) {
    return execFileSync(this.sluice, ['--state-dir', this.state, ...args],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  }

  async start() {
    for (const [user, role] of [['alice', 'admin'], ['oscar', 'operator'], ['carol', 'approver'], ['vera', 'viewer']]) {
      this.tokens[user] = this.cli(['token', 'create', '--user', user, '--role', role]).trim().split('\n').pop().trim();
    }
    this.server = spawn(this.sluice, ['--state-dir', this.state, 'server', '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    this.serverLog = '';
    this.server.stderr.on('data', (d) => { this.serverLog = (this.serverLog + d).slice(-20000); });
    this.url = await new Promise((ok, fail) => {
      let out = '';
      this.server.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) ok(m[1]);
      });
      this.server.on('exit', (code) => fail(new Error(`sluice server exited ${code}: ${this.serverLog}`)));
    });
    this.browser = await chromium.launch({
      executablePath: process.env.SLUICE_CHROMIUM || '/usr/bin/chromium',
      // The browser would look up Google's hosts in DNS; nothing but loopback resolves.
      args: ['--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost'],
    });
    console.log(`# ${this.url}, chromium ${this.browser.version()}`);
  }

  // An API call with `user`'s bearer token.
  async api(user, method, path, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: { Authorization: `Bearer ${this.tokens[user]}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = text;
    try { data = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, data, headers: res.headers };
  }

  // Submits `yaml` as pipeline.yaml (as alice, in default) and returns the run's id.
  async submit(yaml, params = {}) {
    const r = await this.api('alice', 'POST', '/api/v1/namespaces/default/runs',
      { pipeline: 'pipeline.yaml', files: { 'pipeline.yaml': yaml }, params });
    if (r.status !== 201) throw new Error(`submit: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data.id;
  }

  // Waits until run `id`'s status satisfies `pred`, by its one-run event stream's end or the
  // status document (a test's fixture, not the UI under test).
  async waitRun(id, pred) {
    for (let i = 0; i < 1200; i++) {
      const r = await this.api('alice', 'GET', `/api/v1/runs/${id}`);
      if (r.status === 200 && pred(r.data.status)) return r.data;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    throw new Error(`run ${id} never reached the state wanted`);
  }

  // A page logged in as `user` through the login form.
  async loggedIn(user, options = {}) {
    const context = await this.browser.newContext({ locale: 'en-US', timezoneId: 'UTC',
      viewport: { width: 1280, height: 860 }, ...options });
    const page = await context.newPage();
    await page.goto(this.url + '/');
    await page.getByLabel('API token').fill(this.tokens[user]);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    return { context, page };
  }

  async close() {
    if (this.browser) await this.browser.close().catch(() => {});
    // A case that failed may leave a run going: cancel it, so its engine ends with the suite.
    if (this.server && this.server.exitCode === null) {
      const runs = await this.api('alice', 'GET', '/api/v1/runs?limit=500').catch(() => null);
      for (const r of (runs && runs.data.items) || []) {
        if (['running', 'pending', 'compensating'].includes(r.status)) {
          await this.api('alice', 'POST', `/api/v1/runs/${r.id}/cancel`).catch(() => {});
          await this.waitRun(r.id, (s) => !['running', 'pending', 'compensating'].includes(s)).catch(() => {});
        }
      }
    }
    if (this.server && this.server.exitCode === null) {
      const exited = new Promise((ok) => this.server.on('exit', ok));
      this.server.kill('SIGTERM');
      await exited;
    }
    // Engines of submitted runs are processes of their own: the runs here have all finished.
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// Runs each case in order and prints "N passed, M failed" last; exits 1 when one failed.
export async function runCases(fixture, cases, only) {
  let passed = 0;
  let failed = 0;
  try {
    await fixture.start();
    for (const [name, fn] of cases) {
      if (only && !name.includes(only)) continue;
      const t0 = Date.now();
      try {
        await fn(fixture);
        passed++;
        console.log(`ok - ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL - ${name}: ${e.stack || e}`);
      }
    }
  } catch (e) {
    failed++;
    console.log(`FAIL - the suite's fixture: ${e.stack || e}`);
  } finally {
    await fixture.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}
