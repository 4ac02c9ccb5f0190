// Drives the share page in Debian's headless Chromium (tests/browser/chromium.mjs) and prints one
// JSON object of what it saw; tests/share_test.cc judges it.
//
//   node page.mjs CONFIG_JSON
// CONFIG_JSON: {base, code, pin, wrong_pin, shared_study, other_study, screenshot,
//               unlock_argv: [...], revoke_argv: [...], (the CLI that unlocks / revokes the share)
//               code2, pin2, clock_file} (a second share expiring in a day; writing an offset in
//               seconds to clock_file moves the metaserver's share clock)
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dwvCanvasVariance, launchChromium } from './chromium.mjs';

const config = JSON.parse(process.argv[2]);
const result = { wrong: [], locked_message: '' };
const browser = await launchChromium();
try {
  // A fresh profile per context: nothing is remembered between runs.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(config.base + '/');

  async function submit(pin, code = config.code) {
    await page.fill('#code', code);
    await page.fill('#pin', pin);
    const answered = page.waitForResponse((r) => r.url().endsWith('/share/api/redeem'));
    await page.click('#open');
    await answered;
  }

  // Five wrong PINs: each answer counts down; then the share is locked.
  for (let i = 0; i < 5; i++) {
    await submit(config.wrong_pin);
    await page.waitForFunction(() => document.body.dataset.state === 'refused');
    result.wrong.push(await page.textContent('#message'));
    await page.evaluate(() => { delete document.body.dataset.state; });
  }
  await submit(config.pin);
  await page.waitForFunction(() => document.body.dataset.state === 'refused');
  result.locked_message = await page.textContent('#message');

  // The test unlocks the share (the CLI, admin scope), then the right PIN opens it.
  execFileSync(config.unlock_argv[0], config.unlock_argv.slice(1));
  await submit(config.pin);
  await page.waitForFunction(() => document.body.dataset.state === 'open');
  result.studies_text = await page.textContent('#studies');
  // Each series button: its label (not its UID, which is only the tooltip) and a thumbnail.
  result.series_buttons = await page.$$eval('#studies .series button',
                                            (bs) => bs.map((b) => b.textContent));
  result.series_titles = await page.$$eval('#studies .series button', (bs) => bs.map((b) => b.title));
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#studies img.thumbnail')];
    return imgs.length > 0 && imgs.every((i) => i.complete);
  }, null, { timeout: 30000 }).catch(() => {});
  result.thumbnails = await page.$$eval('#studies img.thumbnail', (imgs) => imgs.map(
      (i) => ({ width: i.naturalWidth, height: i.naturalHeight, hidden: i.hidden })));
  await page.click('#studies button');
  await page.waitForFunction(() => document.body.dataset.viewer === 'loaded', null,
                             { timeout: 60000 });
  // The canvas is not blank: the variance of its pixels' grey levels (waited for, as dwv draws
  // after it reports the render).
  const variance = dwvCanvasVariance;
  await page.waitForFunction(variance, null, { timeout: 30000 }).catch(() => {});
  result.pixel_variance = await page.evaluate(variance);
  await page.screenshot({ path: config.screenshot });

  // A hand-made request for another study's UID, from inside the session.
  result.other_study = await page.evaluate(async (uid) => {
    const r = await fetch('/dicomweb/studies/' + uid);
    return { status: r.status, body: await r.text() };
  }, config.other_study);
  result.missing_study = await page.evaluate(async () => {
    const r = await fetch('/dicomweb/studies/1.2.3.4.5.6.7.8.9.10');
    return { status: r.status, body: await r.text() };
  });
  result.shared_study_status = await page.evaluate(async (uid) => {
    return (await fetch('/dicomweb/studies/' + uid)).status;
  }, config.shared_study);

  // Revocation ends the open session at its next request.
  execFileSync(config.revoke_argv[0], config.revoke_argv.slice(1));
  result.after_revoke_status = await page.evaluate(async (uid) => {
    return (await fetch('/dicomweb/studies/' + uid)).status;
  }, config.shared_study);
  // The page itself, reloaded, has no session: it asks for the code again.
  const sessionAnswer = page.waitForResponse((r) => r.url().endsWith('/share/api/session'));
  await page.goto(config.base + '/');
  result.after_revoke_session_status = (await sessionAnswer).status();
  result.after_revoke_form_shown = await page.isVisible('#redeem');

  // Expiry ends an open session at its next request too: a second share, valid for a day, is
  // opened; then the metaserver's share clock moves two days on.
  await submit(config.pin2, config.code2);
  await page.waitForFunction(() => document.body.dataset.state === 'open');
  const status = () => page.evaluate(async (uid) => {
    return (await fetch('/dicomweb/studies/' + uid)).status;
  }, config.shared_study);
  result.before_expiry_status = await status();
  writeFileSync(config.clock_file, String(2 * 86400) + '\n');
  result.after_expiry_status = await status();
  result.after_expiry_session_status = await page.evaluate(
      async () => (await fetch('/share/api/session')).status);
  // Every request went to the frontend itself: nothing from a CDN.
  result.foreign_requests = requests.filter((u) => !u.startsWith(config.base));
  result.console_errors = consoleErrors;
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
