// What the tests that drive Debian's headless Chromium share (tests/export/index_page.mjs,
// tests/share_page/page.mjs): starting it through playwright-core (from the share page's
// package-lock.json; no browser is downloaded) and sampling dwv's canvas. The test copies this
// file beside the script that imports it, into the folder whose node_modules holds playwright-core.
import { chromium } from 'playwright-core';

// Headless, no sandbox (tests run as root), and nothing that reaches the network by itself.
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                               '--no-first-run', '--disable-background-networking',
                               '--disable-component-update', '--disable-sync'];

// Debian's /usr/bin/chromium with CHROMIUM_FLAGS and `extraArgs`, on a fresh profile of its own.
export function launchChromium(extraArgs = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium',
                           args: [...CHROMIUM_FLAGS, ...extraArgs] });
}

// Run in the page (page.evaluate / waitForFunction): the largest variance of the grey levels of
// dwv's canvases (#layerGroup0), 0 when none is drawn, so a blank or flat viewer reads 0.
export function dwvCanvasVariance() {
  let best = 0;
  for (const canvas of document.querySelectorAll('#layerGroup0 canvas')) {
    const ctx = canvas.getContext('2d');
    if (!ctx || canvas.width === 0 || canvas.height === 0) continue;
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0, sum2 = 0, n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const g = (data[i] + data[i + 1] + data[i + 2]) / 3;
      sum += g; sum2 += g * g; n++;
    }
    best = Math.max(best, n ? sum2 / n - (sum / n) * (sum / n) : 0);
  }
  return best;
}
