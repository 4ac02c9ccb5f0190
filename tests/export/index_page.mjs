// Opens an exported medium's INDEX.HTM from file:// in Debian's headless Chromium
// (tests/browser/chromium.mjs) and prints one JSON object of what it saw; tests/export_test.cc and
// tests/share_test.cc (the share download, unzipped) judge it. Then, in a browser started without
// any file:// flag, clicks each series' "Open" link into the medium's offline viewer and samples its
// canvas.
//
//   node index_page.mjs '{"url":"file:///.../INDEX.HTM","screenshot":"/.../export-index.png",
//                         "viewer_screenshot":"/.../export-viewer.png"}'
import { dwvCanvasVariance, launchChromium } from './chromium.mjs';

const config = JSON.parse(process.argv[2]);
// The renderings are read back through a canvas: file:// pages are otherwise each their own
// origin and the canvas would be tainted. (The viewer below runs without this flag.)
const browser = await launchChromium(['--allow-file-access-from-files']);
const result = {};
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(config.url);
  await page.screenshot({ path: config.screenshot, fullPage: true });
  result.title = await page.title();
  result.studies = await page.locator('table.study').count();
  result.series_links = await page.locator('table.series a').count();
  result.images = await page.evaluate(() => Array.from(document.images).map((img) => {
    // A rendering that decoded and is not one flat colour.
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    if (!canvas.width || !canvas.height) return { loaded: false, variance: 0 };
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0, sum2 = 0, n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const g = (data[i] + data[i + 1] + data[i + 2]) / 3;
      sum += g; sum2 += g * g; n++;
    }
    return { loaded: true, variance: sum2 / n - (sum / n) * (sum / n) };
  }));
  result.foreign_requests = requests.filter((u) => !u.startsWith('file://'));
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}

// The viewer: a fresh browser as anyone's, no flag about file://.
const plain = await launchChromium();
result.viewer = [];
try {
  const page = await (await plain.newContext()).newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(config.url);
  const links = await page.locator('a.viewer').count();
  for (let k = 0; k < links; ++k) {
    if (k > 0) await page.goto(config.url);
    await page.locator('a.viewer').nth(k).click();
    await page.waitForFunction(() => ['loaded', 'failed'].includes(document.body.dataset.viewer),
                               null, { timeout: 60000 });
    // dwv draws after 'renderend' too: wait until a canvas is not one flat colour (or give up
    // and report what is there).
    const variance = dwvCanvasVariance;
    if (await page.evaluate(() => document.body.dataset.viewer) === 'loaded') {
      await page.waitForFunction(variance, null, { timeout: 20000 }).catch(() => {});
    }
    if (k === 0) await page.screenshot({ path: config.viewer_screenshot });
    result.viewer.push({
      hash: await page.evaluate(() => window.location.hash),
      state: await page.evaluate(() => document.body.dataset.viewer),
      variance: await page.evaluate(variance),
    });
  }
  // blob: URLs are the decoder workers the page itself made.
  result.viewer_foreign_requests =
    requests.filter((u) => !u.startsWith('file://') && !u.startsWith('blob:null/'));
} catch (e) {
  result.viewer_error = String(e);
} finally {
  await plain.close();
}
console.log(JSON.stringify(result));
