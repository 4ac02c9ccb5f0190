// Opens an exported medium's INDEX.HTM from file:// in Debian's headless Chromium
// (playwright-core from the share page's package-lock.json) and prints one JSON object of what it
// saw; tests/export_test.cc judges it.
//
//   node index_page.mjs '{"url":"file:///.../INDEX.HTM","screenshot":"/.../export-index.png"}'
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         // The renderings are read back through a canvas: file:// pages are otherwise each their
         // own origin and the canvas would be tainted.
         '--allow-file-access-from-files'],
});
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
console.log(JSON.stringify(result));
