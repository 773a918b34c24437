// The citizen portal in real headless Chromium (Debian's), driven by
// playwright-core: a citizen activates and signs in, approves a pending
// consent request, sees the agency's lookup in "Who looked at my data"
// with its proof checked, revokes the consent and sees the next lookup
// refused; switches to French and Dutch; every page passes axe-core with
// no serious or critical violation and is saved as a PNG screenshot.
//
// Usage: node portal.test.mjs <path of the crossroads binary>

import { spawn } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const binary = process.argv[2] ?? join(root, 'target', 'debug', 'crossroads');
const shots = join(root, 'target', 'browser-screenshots');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const password = 'a long browser-test password';
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
  return ok;
};
const must = (ok, what) => {
  if (!check(ok, what)) throw new Error(`required step failed: ${what}`);
};

// ---- the hub scenario -----------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'crossroads-browser-'));
const scenarioFile = join(work, 'scenario.json');
const hub = spawn(binary, ['demo', '--scenario-file', scenarioFile], {
  env: {
    ...process.env,
    CROSSROADS_DATA_DIR: join(work, 'data'),
    CROSSROADS_LISTEN: '127.0.0.1:0',
    CROSSROADS_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let hubOutput = '';
hub.stdout.on('data', (d) => { hubOutput += d; });
hub.stderr.on('data', (d) => { hubOutput += d; });
const hubExited = new Promise((res) => hub.on('exit', (code) => res(code)));

async function waitForScenario() {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (existsSync(scenarioFile) && hubOutput.includes('Scenario for tests written')) {
      return JSON.parse(readFileSync(scenarioFile, 'utf8'));
    }
    if (hub.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the demo did not set up the scenario:\n${hubOutput}`);
}

// ---- the consumer agency, over HTTP ---------------------------------------

const b64url = (x) => Buffer.from(x).toString('base64url');

async function agencyToken(s) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({
    iss: s.consumer.id, sub: s.consumer.id, aud: s.token_endpoint,
    iat: now, exp: now + 60, jti: randomUUID(),
  }));
  const signer = createSign('SHA256');
  signer.update(`${header}.${claims}`);
  const signature = signer.sign({ key: readFileSync(s.consumer.key_file), dsaEncoding: 'ieee-p1363' });
  const assertion = `${header}.${claims}.${b64url(signature)}`;
  const res = await fetch(s.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const body = await res.json();
  must(res.ok, `the agency gets an access token (${res.status})`);
  return body.access_token;
}

async function lookup(s) {
  const token = await agencyToken(s);
  const res = await fetch(`${s.hub_url}/v1/lookups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ person: s.citizen.common_id, ...s.lookup }),
  });
  return { status: res.status, body: await res.json() };
}

// ---- the browser ----------------------------------------------------------

async function audit(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.violations) {
    console.log(`     axe ${v.impact}: ${v.id} — ${v.help} (${v.nodes.length} node(s))`);
  }
  check(serious.length === 0, `${name}: no serious or critical accessibility violation`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const s = await waitForScenario();
  console.log(`hub at ${s.hub_url}; citizen ${s.citizen.common_id}; consent ${s.consent_id}`);

  const userData = mkdtempSync(join(tmpdir(), 'crossroads-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    locale: 'en-GB',
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  const cspViolations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  try {
    const base = s.hub_url;

    // The root leads to sign-in; the security headers are there.
    const first = await page.goto(`${base}/`);
    must(page.url().endsWith('/portal/sign-in'), 'the root leads to the sign-in page');
    const headers = first.headers();
    check(headers['content-security-policy']?.includes("default-src 'none'"), 'a strict Content-Security-Policy');
    check(headers['x-content-type-options'] === 'nosniff', 'X-Content-Type-Options: nosniff');
    await audit(page, '01-sign-in');

    // Activate with the code from the letter.
    await page.getByRole('link', { name: /Activate your account/ }).click();
    must(page.url().endsWith('/portal/activate'), 'the activation page');
    await audit(page, '02-activate');
    await page.getByLabel('Common ID').fill(s.citizen.common_id);
    await page.getByLabel('Activation code').fill(s.citizen.activation_code);
    await page.getByLabel('New password').fill(password);
    await page.getByRole('button', { name: 'Activate' }).click();
    must(await page.getByText('Your account is active').isVisible(), 'activated, back at sign-in');

    // Sign in.
    await page.getByLabel('Common ID').fill(s.citizen.common_id);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    must(page.url().includes('/portal/access-log'), 'signed in, on "Who looked at my data"');
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'crossroads_session');
    check(session && session.httpOnly && session.secure && session.sameSite === 'Strict',
      'the session cookie is HttpOnly, Secure and SameSite=Strict');

    // The pending request, what/who/why/how long; approve it.
    await page.getByRole('link', { name: 'My consents' }).click();
    const request = page.locator('article.card').filter({ hasText: 'tax.income-statement@1' });
    must(await request.count() === 1, 'the pending consent request is shown');
    check(await request.getByText('Benefits Agency').first().isVisible(), 'who asks: the Benefits Agency');
    check(await request.getByText('4 times per month').isVisible(), 'how often: 4 times per month');
    await audit(page, '03-consents-pending');
    await request.getByRole('button', { name: /^Approve/ }).click();
    const current = page.locator('table').filter({ hasText: 'Consents in use' });
    must(await current.getByRole('cell', { name: 'active', exact: true }).count() === 1, 'the consent is active');

    // The agency looks the income statement up: permitted.
    const permitted = await lookup(s);
    must(permitted.status === 200, `the lookup with consent is permitted (${permitted.status})`);

    // …and it appears in the access log, with its proof checked.
    await page.getByRole('link', { name: 'Who looked at my data' }).click();
    const permittedRow = page.locator('#access-log tbody tr.outcome-permitted[data-kind^="lookup."]')
      .filter({ hasText: 'tax.income-statement' });
    must(await permittedRow.count() >= 1, 'the permitted lookup is in "Who looked at my data"');
    const marker = permittedRow.first().locator('.proof-verified');
    check(/proof verified ✓ against checkpoint \d+/.test(await marker.innerText()),
      'its inclusion proof is shown verified against a checkpoint');
    check(await page.locator('.proof-failed').count() === 0, 'no row fails its proof');
    await audit(page, '04-access-log-permitted');

    // Download the signed artefact.
    await page.getByRole('link', { name: 'My consents' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download signed consent' }).click(),
    ]);
    const artefact = readFileSync(await download.path(), 'utf8');
    check(artefact.split('.').length === 3, 'the signed consent artefact downloads as a compact JWS');

    // Revoke; the next lookup is refused, and the log shows it.
    await page.getByRole('button', { name: /^Revoke/ }).click();
    const past = page.locator('table').filter({ hasText: 'Consents no longer in use' });
    must(await past.getByRole('cell', { name: 'revoked', exact: true }).count() === 1, 'the consent is revoked');
    await audit(page, '05-consents-revoked');
    const refused = await lookup(s);
    must(refused.status !== 200, `the lookup after revocation is refused (${refused.status} ${refused.body.code})`);
    await page.getByRole('link', { name: 'Who looked at my data' }).click();
    const refusedRow = page.locator('#access-log tbody tr.outcome-denied[data-kind^="lookup."]')
      .filter({ hasText: 'tax.income-statement' });
    must(await refusedRow.count() >= 1, 'the refused lookup is in the log');
    check(await refusedRow.first().getByText('refused').isVisible(), 'marked refused');
    check(await refusedRow.first().locator('.proof-verified').count() === 1, 'its proof is verified too');
    await audit(page, '06-access-log-refused');

    // Filters: by record type and by agency.
    await page.getByLabel('Record type').fill('person.address');
    await page.getByRole('button', { name: 'Show' }).click();
    const shown = await page.locator('#access-log tbody tr').allInnerTexts();
    check(shown.length > 0 && shown.every((t) => t.includes('person.address')), 'the record-type filter works');

    // The directory and the legal bases.
    await page.getByRole('link', { name: 'Who holds data about me' }).click();
    check(await page.getByRole('cell', { name: 'resident' }).isVisible(), 'the register\'s file is listed');
    await audit(page, '07-holders');
    await page.getByRole('link', { name: 'Who may see my data by law' }).click();
    check(await page.getByRole('link', { name: /Deliberation 26\/042/ }).first().isVisible(), 'the legal reference is shown');
    await audit(page, '08-by-law');

    // Languages.
    await page.getByRole('link', { name: 'Français' }).click();
    check(await page.getByRole('heading', { level: 1 }).innerText() === 'Qui peut voir mes données selon la loi',
      'French: the heading is translated');
    check(await page.locator('html').getAttribute('lang') === 'fr', 'French: <html lang="fr">');
    await page.getByRole('link', { name: 'Mes consentements' }).click();
    await audit(page, '09-consents-fr');
    await page.getByRole('link', { name: 'Nederlands' }).click();
    check(await page.getByRole('heading', { level: 1 }).innerText() === 'Mijn toestemmingen',
      'Dutch: the heading is translated');
    await page.getByRole('link', { name: 'Wie bekeek mijn gegevens' }).click();
    await audit(page, '10-access-log-nl');
    await page.getByRole('link', { name: 'English' }).click();

    // A form posted without its token is refused with a 403 page.
    const forged = await page.request.post(`${base}/portal/consents/${s.consent_id}/pause`, {
      form: { csrf: 'forged' }, maxRedirects: 0,
    });
    check(forged.status() === 403, `a form without its CSRF token is refused (${forged.status()})`);

    // Sign out.
    await page.getByRole('button', { name: 'Sign out' }).click();
    check(await page.getByText('You are signed out').isVisible(), 'signed out');
    await page.goto(`${base}/portal/consents`);
    check(page.url().includes('/portal/sign-in'), 'after signing out, pages lead to sign-in');

    check(cspViolations.length === 0, `no Content-Security-Policy violation (${cspViolations.join(' | ')})`);
  } finally {
    await context.close();
    rmSync(userData, { recursive: true, force: true });
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  hub.kill('SIGINT');
  const exited = await Promise.race([hubExited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  if (exited === 'timeout') hub.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
if (failures > 0) code = 1;
console.log(code === 0 ? '\nbrowser test passed' : `\nbrowser test FAILED (${failures} check(s) failed)`);
if (code !== 0) console.log(`--- hub output ---\n${hubOutput.slice(-4000)}`);
process.exit(code);
