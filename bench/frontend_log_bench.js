/**
 * Drives the real log panel in Debian's Chromium, as a user's job drives it: opens JupyterLab
 * at the URL given and, several times, runs the public `hub-api:deploy` command (kind
 * "build") on the benchmark's project, whose job prints N lines (bench/frontend_bench.py
 * configures that); the command opens the job's log panel, which streams the lines over the
 * job's WebSocket. Prints one JSON line with the time from the command to the render of the
 * last line, the scroll to the top, the DOM rows and the JS heap.
 *
 *   node bench/frontend_log_bench.js http://127.0.0.1:8899/lab 100000 3 logbench
 */
const path = require('path');
const { chromium } = require(
  path.join(__dirname, '..', 'ui-tests', 'node_modules', 'playwright')
);

async function main() {
  const [url, linesArg, runsArg, project] = process.argv.slice(2);
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
        window.jupyterapp.commands.hasCommand('hub-api:deploy'),
      null,
      {
        timeout: 120000
      }
    );
    await page.evaluate(() => window.jupyterapp.restored);
    const results = [];
    for (let i = 0; i < runs; i++) {
      const result = await page.evaluate(
        async ({ n, project }) => {
          const app = window.jupyterapp;
          const frame = () => new Promise(res => requestAnimationFrame(res));
          const start = performance.now();
          const job = await app.commands.execute('hub-api:deploy', {
            project,
            kind: 'build',
            openLog: true
          });
          const selector = `[data-testid="hub-api-log-panel"][data-job-id="${job.id}"]`;
          const last = `line ${n - 1} `;
          // A row's text without the time stamp the panel may show before it.
          const text = row =>
            Array.from(row.childNodes)
              .filter(
                c => !(c.classList && c.classList.contains('jp-HubApi-logTime'))
              )
              .map(c => c.textContent)
              .join('');
          // Checked once per frame: the render that shows the last line.
          const deadline = start + 300000;
          for (;;) {
            const panel = document.querySelector(selector);
            const rows = panel
              ? panel.querySelectorAll('.jp-HubApi-logLine')
              : [];
            if (Array.from(rows).some(r => text(r).startsWith(last))) {
              break;
            }
            if (performance.now() > deadline) {
              const shown = Array.from(rows).map(text).slice(-3);
              throw new Error(
                `the log panel did not show "${last}" within 300 s ` +
                  `(job ${panel ? panel.dataset.state : 'without a panel'}; ` +
                  `last rows: ${JSON.stringify(shown)})`
              );
            }
            await frame();
          }
          const ms = performance.now() - start;
          const panel = document.querySelector(selector);
          const domRows = panel.querySelectorAll('.jp-HubApi-logLine').length;
          // Then how long a scroll to the top takes to render (the virtualised view
          // re-renders a window, not 100k rows).
          const viewport = panel.querySelector('.jp-HubApi-logViewport');
          const t0 = performance.now();
          viewport.scrollTop = 0;
          await frame();
          await frame();
          const scrollMs = performance.now() - t0;
          const heap = performance.memory
            ? performance.memory.usedJSHeapSize
            : null;
          // The next run starts once this job has ended (one job per project at a time).
          while (!['succeeded', 'failed'].includes(panel.dataset.state)) {
            await frame();
          }
          for (const w of Array.from(app.shell.widgets('main'))) {
            if (w.id === `hub-api-log-${job.id}`) {
              w.dispose();
            }
          }
          return {
            lines: n,
            ms,
            domRows,
            scrollMs,
            heap,
            state: panel.dataset.state
          };
        },
        { n: lines, project }
      );
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
