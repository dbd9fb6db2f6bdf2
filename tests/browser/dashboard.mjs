// SPDX-License-Identifier: MIT
// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), run by tests/integration/dashboard.sh against a real
// chuted: token, root list, "Snapshot now", browse, download, screenshot.
// Prints one "ok - ..." or "not ok - ..." line per check, then exits 0; the
// shell script counts them (and compares the downloaded bytes itself).
//   node dashboard.mjs URL TOKEN ROOT DIR FILE OUTDIR
import { chromium } from 'playwright-core';
import process from 'node:process';

const [url, token, root, dir, file, outdir] = process.argv.slice(2);
const results = [];
const check = (desc, cond, detail) => {
  results.push(cond);
  console.log(`${cond ? 'ok' : 'not ok'} - ${desc}`);
  if (!cond && detail) console.log(`# ${String(detail).replace(/\n/g, '\n# ')}`);
};
// step DESC FN: run FN; a throw (a timeout waiting for something) fails DESC
async function step(desc, fn) {
  try {
    const v = await fn();
    check(desc, v !== false);
  } catch (e) {
    check(desc, false, e.message.split('\n')[0]);
  }
}

const args = ['--disable-dev-shm-usage', '--no-first-run'];
// Chromium's sandbox needs user namespaces, which root in a container lacks
if (process.getuid() === 0) args.push('--no-sandbox');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args, timeout: 60000 });
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));

  await page.goto(url);
  await step('the page asks for the token', () => page.locator('#login').waitFor({ state: 'visible' }));

  await page.fill('#token', '0'.repeat(64));
  await page.click('#login button[type=submit]');
  await step('a wrong token is refused and asked for again', async () => {
    await page.locator('#login-error').filter({ hasText: 'refused' }).waitFor();
    return page.locator('#login').isVisible();
  });

  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  const rootRow = page.locator(`#roots tbody tr[data-path="${root}"]`);
  await step('with the token it shows the root list', () => rootRow.waitFor());
  await step('... with the root\'s last snapshot', async () =>
    /\([0-9a-f]{12}\)/.test(await rootRow.locator('td').nth(2).innerText()));

  const rows = page.locator('#snapshots tbody tr');
  await rows.first().waitFor();
  const before = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  await page.click('#snapshot-now');
  let fresh = null;
  await step('"Snapshot now" makes a new snapshot appear', async () => {
    await page.waitForFunction((old) => [...document.querySelectorAll('#snapshots tbody tr')]
      .some((tr) => !old.includes(tr.dataset.id)), before);
    fresh = await rows.first().getAttribute('data-id');
    return !before.includes(fresh);
  });
  console.log(`# new snapshot ${fresh}`);
  await step('the chart draws a point per snapshot', async () =>
    (await page.locator('#chart svg circle').count()) === before.length + 1);

  await step('Browse opens the new snapshot', async () => {
    await page.locator(`#snapshots tbody tr[data-id="${fresh}"] button.browse`).click();
    await page.locator(`#entries tbody tr[data-name="${dir}"] button.dir`).click();
    await page.locator(`#entries tbody tr[data-name="${file}"]`).waitFor();
  });
  await step(`a file downloads from the browser (${file})`, async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`#entries tbody tr[data-name="${file}"] button.download`).click(),
    ]);
    await download.saveAs(`${outdir}/downloaded`);
    return download.suggestedFilename() === file;
  });

  // a directory and a file whose names are not UTF-8 (bytes 0xff, 0xfe)
  await step('a directory named with a byte that is not UTF-8 opens', async () => {
    await page.locator('#crumbs button.crumb').first().click();
    await page.locator('#entries tbody tr button.dir', { hasText: 'raw' }).click();
    await page.locator('#entries tbody tr', { hasText: '.bin' }).locator('button.download').waitFor();
    return (await page.locator('#crumbs button.crumb', { hasText: 'raw' }).count()) === 1;
  });
  await step('... and its file (another such byte) downloads', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#entries tbody tr', { hasText: '.bin' }).locator('button.download').click(),
    ]);
    await download.saveAs(`${outdir}/downloaded-raw`);
    return true;
  });

  await page.screenshot({ path: `${outdir}/dashboard.png`, fullPage: true });

  check('the token is in no URL the page asked for', !seen.some((u) => u.includes(token)), seen.join('\n'));
  await step('the token is kept in sessionStorage', async () =>
    (await page.evaluate(() => sessionStorage.getItem('chute-api-token'))) === token);
  await page.reload();
  await step('... so a reload does not ask again', () => rootRow.waitFor());
  check('no console errors (a CSP violation would be one)', problems.filter((p) => !/401/.test(p)).length === 0,
    problems.join('\n'));
} finally {
  await browser.close();
}
process.exit(0);
