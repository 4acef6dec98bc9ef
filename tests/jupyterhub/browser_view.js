/**
 * One user's view of the shared platform in a real browser (Debian's Chromium, Playwright from
 * ui-tests/node_modules): log in on the hub's login page, open JupyterLab in the user's own
 * server, open the deployments panel, and print what it lists as JSON
 * ({"apis": [...], "endpoints": [...]}); a screenshot of the panel goes to SHOT.
 *
 * Usage: node browser_view.js HUB_URL USER SHOT
 * Run by tests/jupyterhub/test_browser.py.
 */
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const { chromium } = require(
  path.join(ROOT, 'ui-tests', 'node_modules', 'playwright-core')
);

async function main() {
  const [hubUrl, user, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run']
  });
  try {
    const page = await browser.newPage({
      viewport: { width: 1366, height: 800 }
    });
    await page.goto(`${hubUrl}/hub/login`);
    await page.fill('#username_input', user);
    await page.fill('#password_input', 'any');
    await Promise.all([page.waitForNavigation(), page.click('#login_submit')]);
    await page.goto(`${hubUrl}/user/${user}/lab`, { timeout: 120000 });
    const tab = page.locator(
      '.jp-SideBar .lm-TabBar-tab[data-id="hub-api-deployments"]'
    );
    await tab.click({ timeout: 120000 });
    const panel = page.getByTestId('hub-api-deployments');
    const cards = panel.locator('[data-api]');
    await cards.first().waitFor({ timeout: 60000 });
    await page.getByTestId('api-endpoint').first().waitFor({ timeout: 30000 });
    const apis = await cards.evaluateAll(els =>
      els.map(e => e.getAttribute('data-api'))
    );
    const endpoints = (
      await panel.getByTestId('api-endpoint').allTextContents()
    ).map(t => t.trim());
    await page.screenshot({ path: shot });
    process.stdout.write(JSON.stringify({ apis, endpoints }) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch(err => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
