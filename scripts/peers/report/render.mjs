// Opens a medsurface HTML report in Debian's headless chromium and prints a JSON verdict:
//   node render.mjs REPORT.html SCREENSHOT.png
// The verdict lists console errors and warnings, page errors, every request other than the file
// itself (a self-contained report makes none), failed requests, CSP violations, the report's
// sections (id, visible height) and its inline charts, and the screenshot's path.
// Used by crates/report/tests/chromium.rs. Exit status: 0 when the page loaded (the verdict
// says whether it is clean), 2 on usage errors, 3 when the browser could not run.
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { statSync } from 'node:fs';

const [, , htmlArg, pngArg] = process.argv;
if (!htmlArg || !pngArg) {
  console.error('usage: node render.mjs REPORT.html SCREENSHOT.png');
  process.exit(2);
}
const htmlPath = resolve(htmlArg);
const pngPath = resolve(pngArg);
const pageUrl = pathToFileURL(htmlPath).href;

const args = ['--disable-gpu', '--no-first-run', '--no-default-browser-check'];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');

const verdict = {
  url: pageUrl,
  console: [],
  pageErrors: [],
  requests: [],
  failedRequests: [],
  sections: [],
  charts: 0,
  screenshot: pngPath,
  screenshotBytes: 0,
};

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
    timeout: 60000,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      verdict.console.push({ type: m.type(), text: m.text() });
    }
  });
  page.on('pageerror', (e) => verdict.pageErrors.push(String(e)));
  page.on('request', (r) => {
    if (r.url() !== pageUrl) verdict.requests.push(r.url());
  });
  page.on('requestfailed', (r) => {
    if (r.url() !== pageUrl) verdict.failedRequests.push(r.url());
  });
  await page.goto(pageUrl, { waitUntil: 'load', timeout: 30000 });
  const facts = await page.evaluate(() => {
    const sections = [...document.querySelectorAll('section[id]')].map((s) => {
      const r = s.getBoundingClientRect();
      const style = getComputedStyle(s);
      return {
        id: s.id,
        height: Math.round(r.height),
        width: Math.round(r.width),
        visible: r.height > 0 && r.width > 0 && style.display !== 'none' && style.visibility !== 'hidden',
        svgs: s.querySelectorAll('svg').length,
        heading: (s.querySelector('h2') || {}).textContent || null,
      };
    });
    return {
      title: document.title,
      sections,
      charts: document.querySelectorAll('svg').length,
      scripts: document.querySelectorAll('script').length,
      csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || null,
      // Text that a broken escaping would have turned into elements.
      injected: document.querySelectorAll('main script, main img, main iframe, main object').length,
    };
  });
  Object.assign(verdict, facts);
  await page.screenshot({ path: pngPath, fullPage: true });
  verdict.screenshotBytes = statSync(pngPath).size;
  await browser.close();
} catch (e) {
  verdict.error = String(e && e.stack ? e.stack : e);
  if (browser) await browser.close().catch(() => {});
  console.log(JSON.stringify(verdict));
  process.exit(3);
}
console.log(JSON.stringify(verdict));
