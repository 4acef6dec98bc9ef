/**
 * Drives one journey in Debian's Chromium the way a new user does it with the mouse, and
 * counts the clicks: JupyterLab's launcher tile → the wizard (name; the model, whose file is
 * clicked only when it is not picked already, with its framework; review, with the
 * requirements) → "Create and deploy" → the log to its end → "Test" in the done
 * notification → Send in the test console → the prediction. Typing the name is not a click.
 * Prints one JSON line: seconds from the tile's click to the prediction on screen, the clicks,
 * and the seconds of the build & deploy alone. bench/journey_bench.py starts the server.
 *
 *   node bench/journey_bench_driver.js http://127.0.0.1:PORT/lab API_NAME MODEL_PATH
 */
const path = require('path');
const { chromium } = require(
  path.join(__dirname, '..', 'ui-tests', 'node_modules', 'playwright')
);

async function main() {
  const [url, name, modelPath] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu']
  });
  let clicks = 0;
  const click = async locator => {
    await locator.click({ timeout: 120000 });
    clicks += 1;
  };
  try {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 860 }
    });
    // ?reset: a fresh workspace (the launcher), not the panels an earlier journey left open.
    await page.goto(url + '?reset');
    const tile = page
      .locator('.jp-LauncherCard[title^="Turn a trained model"]')
      .first();
    await tile.waitFor({ timeout: 180000 });
    const started = Date.now();
    await click(tile);
    const wizard = page.getByTestId('hub-api-wizard');
    await wizard.getByTestId('wizard-name').fill(name); // focused already: typing only
    await click(wizard.getByTestId('wizard-next'));
    // The model step: the folder's only model file is picked already (a click when not).
    const row = wizard.locator(`input[data-path="${modelPath}"]`);
    await row.waitFor({ timeout: 120000 });
    if (!(await row.isChecked())) {
      await click(row);
    }
    const framework = wizard.getByTestId('wizard-template');
    if ((await framework.inputValue()) !== 'sklearn') {
      await framework.selectOption('sklearn'); // a click on the select, one on the option
      clicks += 2;
    }
    await click(wizard.getByTestId('wizard-next'));
    // The review: the requirements proposed pinned to the kernel's versions (no click).
    await page.waitForFunction(
      () =>
        /scikit-learn==/.test(
          document.querySelector('[data-testid="wizard-requirements"]')
            ?.value ?? ''
        ),
      null,
      { timeout: 120000, polling: 100 }
    );
    // Log panels restored from an earlier journey of the run are not this deploy's.
    const earlier = await page
      .getByTestId('hub-api-log-panel')
      .evaluateAll(nodes => nodes.map(n => n.getAttribute('data-job-id')));
    const deployStarted = Date.now();
    await click(wizard.getByTestId('wizard-create-deploy'));
    const handle = await page.waitForFunction(
      earlier => {
        for (const panel of document.querySelectorAll(
          '[data-testid="hub-api-log-panel"]'
        )) {
          const state = panel.getAttribute('data-state');
          if (
            !earlier.includes(panel.getAttribute('data-job-id')) &&
            (state === 'succeeded' || state === 'failed')
          ) {
            return state === 'succeeded' ? 'succeeded' : panel.innerText;
          }
        }
        return false;
      },
      earlier,
      { timeout: 900000, polling: 250 }
    );
    const outcome = await handle.jsonValue();
    if (outcome !== 'succeeded') {
      throw new Error('the deploy failed: ' + outcome);
    }
    const deploySeconds = (Date.now() - deployStarted) / 1000;
    // The done notification's "Test" opens the API's test console; when the notification
    // has closed already (it closes after 8 s), the deployments sidebar and the card's Test.
    try {
      await page
        .locator('.Toastify__toast')
        .getByRole('button', { name: 'Test', exact: true })
        .first()
        .click({ timeout: 5000 });
      clicks += 1;
    } catch {
      await click(
        page.locator(
          '.jp-SideBar .lm-TabBar-tab[data-id="hub-api-deployments"]'
        )
      );
      await click(
        page
          .getByTestId('hub-api-deployments')
          .locator(`[data-api="${name}"]`)
          .getByTestId('api-test')
      );
    }
    const consoleWidget = page
      .locator(`[data-testid="hub-api-api-panel"][data-api="${name}"]`)
      .getByTestId('test-console');
    await click(consoleWidget.getByTestId('test-send'));
    await consoleWidget
      .getByTestId('test-body')
      .filter({ hasText: '"prediction"' })
      .waitFor({ timeout: 300000 });
    const seconds = (Date.now() - started) / 1000;
    const status = (
      await consoleWidget.getByTestId('test-status').textContent()
    ).trim();
    console.log(
      JSON.stringify({
        seconds,
        clicks,
        deploy_seconds: deploySeconds,
        status
      })
    );
  } finally {
    await browser.close();
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
