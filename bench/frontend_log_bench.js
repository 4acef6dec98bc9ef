/**
 * Drives the real log panel in Debian's Chromium: opens JupyterLab at the URL given, runs the
 * extension's benchmark command (a LogPanel fed with N generated lines, in batches of 1000,
 * as the job stream delivers them) several times, and prints one JSON line with the timings.
 *
 *   node bench/frontend_log_bench.js http://127.0.0.1:8899/lab 100000 3
 */
const path = require('path');
const { chromium } = require(
  path.join(__dirname, '..', 'ui-tests', 'node_modules', 'playwright')
);

async function main() {
  const [url, linesArg, runsArg] = process.argv.slice(2);
  const lines = Number(linesArg || 100000);
  const runs = Number(runsArg || 3);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu']
  });
  try {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 900 }
    });
    await page.goto(url);
    await page.waitForFunction(
      () =>
        window.jupyterapp &&
        window.jupyterapp.commands.hasCommand('hub-api:bench-log'),
      null,
      {
        timeout: 120000
      }
    );
    await page.evaluate(() => window.jupyterapp.restored);
    const results = [];
    for (let i = 0; i < runs; i++) {
      const result = await page.evaluate(async n => {
        const app = window.jupyterapp;
        const r = await app.commands.execute('hub-api:bench-log', { lines: n });
        // A frame later: the browser has painted it; then measure how long a scroll to the
        // top takes to render (the virtualised view re-renders a window, not 100k rows).
        const viewport = document.querySelector(
          '#hub-api-bench-log .jp-HubApi-logViewport'
        );
        const t0 = performance.now();
        viewport.scrollTop = 0;
        await new Promise(res =>
          requestAnimationFrame(() => requestAnimationFrame(res))
        );
        const scrollMs = performance.now() - t0;
        const heap = performance.memory
          ? performance.memory.usedJSHeapSize
          : null;
        app.shell.widgets('main');
        document.querySelector('#hub-api-bench-log') &&
          app.commands.execute('application:close', {});
        for (const w of Array.from(app.shell.widgets('main'))) {
          if (w.id === 'hub-api-bench-log') {
            w.dispose();
          }
        }
        return { ...r, scrollMs, heap };
      }, lines);
      results.push(result);
    }
    console.log(JSON.stringify({ lines, runs: results }));
  } finally {
    await browser.close();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
