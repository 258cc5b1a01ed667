// What the browser scripts share: Debian's Chromium launched the way this machine needs
// (playwright cannot download a browser here; without the background-networking flags
// Chromium's own connections are refused many at a time), and how a script ends.
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.PYSHEETS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run',
    ],
  });
}

// Takes the screenshot (even after a failure: it shows where), closes the browser, prints the
// result as the last line of stdout (the pytest side reads it) and exits.
export async function finish({ page, browser, screenshot, result, exitCode, log }) {
  if (page) {
    try {
      await page.screenshot({ path: screenshot });
      result.screenshot = screenshot;
    } catch (e) {
      log('screenshot failed:', e.message);
    }
  }
  if (browser) await browser.close().catch(() => {});
  console.log(JSON.stringify(result));
  process.exit(exitCode);
}
