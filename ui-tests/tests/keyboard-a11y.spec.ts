/**
 * Keyboard and assistive technology (issue 11): the journey from the launcher tile to a
 * prediction in the test console with the keyboard only (no click, no mouse), checking where
 * focus lands after every step change; and axe-core scans of the extension's own views
 * (wizard steps, log panel, deployments panel, test console, keys, versions) in the light and
 * the dark theme, scoped to the extension's DOM, that must find zero violations.
 *
 * The file's name sorts after journey.spec.ts, so in a full run the scikit-learn environment
 * is already built (cached); alone, it builds it (the timeouts allow for that).
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@jupyterlab/galata';
import { Locator, Page } from '@playwright/test';

import { uniqueName, uploadModel } from './helpers';

test.use({ viewport: { width: 1280, height: 860 } });

const WIZARD = '[data-testid="hub-api-wizard"]';
const LOG = '[data-testid="hub-api-log-panel"]';
const DEPLOYMENTS = '[data-testid="hub-api-deployments"]';
const API_PANEL = '[data-testid="hub-api-api-panel"]';

/**
 * axe-core on the extension's DOM only (`include`), soft-asserted so one view's violations
 * do not hide the next view's; the message names each rule, its impact and every node.
 */
async function scan(page: Page, view: string, ...roots: string[]) {
  let builder = new AxeBuilder({ page });
  for (const root of roots) {
    builder = builder.include(root);
  }
  const { violations } = await builder.analyze();
  const found = violations.map(
    v =>
      `${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes
        .map(n => `    ${n.target.join(' ')}: ${n.failureSummary ?? ''}`)
        .join('\n')
  );
  expect.soft(found, `axe-core violations in ${view}`).toEqual([]);
}

/** True when the element is the focused one. */
function isFocused(target: Locator): Promise<boolean> {
  return target.evaluate(node => node === document.activeElement);
}

/** Press Tab (or Shift+Tab) until `target` has the focus; fails after `max` presses. */
async function tabTo(
  page: Page,
  target: Locator,
  max = 60,
  key = 'Tab'
): Promise<void> {
  for (let n = 0; n < max; n++) {
    if ((await target.count()) > 0 && (await isFocused(target.first()))) {
      return;
    }
    await page.keyboard.press(key);
  }
  await expect(target.first()).toBeFocused({ timeout: 1000 });
}

/** Focus is inside `root` (never dropped to the page body). */
async function expectFocusIn(page: Page, root: string, what: string) {
  await expect
    .poll(
      () => page.evaluate(sel => !!document.activeElement?.closest(sel), root),
      { message: `focus inside ${root} ${what}`, timeout: 15_000 }
    )
    .toBe(true);
}

/** The wizard's current step (its data-step). */
function currentStep(page: Page): Locator {
  return page.locator(`${WIZARD} [aria-current="step"]`);
}

/** Run a JupyterLab command from the command palette, by keyboard. */
async function palette(page: Page, label: string): Promise<void> {
  await page.keyboard.press('Control+Shift+C');
  const input = page.locator('.lm-CommandPalette-input');
  await expect(input).toBeFocused();
  await page.keyboard.type(label);
  await expect(
    page.locator('.lm-CommandPalette-item.lm-mod-active', { hasText: label })
  ).toBeVisible();
  await page.keyboard.press('Enter');
}

let apiName = '';
let jobId = '';

test.describe.configure({ mode: 'serial' });

test('keyboard only: launcher tile → wizard → deploy → prediction in the test console (axe-core on every view, light theme)', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(480_000);
  // No pointer from here on: every action is a key press.
  await page.mouse.move(0, 0);
  const modelPath = await uploadModel(page, tmpPath);
  apiName = uniqueName('kbd');

  // The launcher tile, reached with Tab, opened with Enter.
  const tile = page
    .locator('.jp-LauncherCard[title^="Turn a trained model"]')
    .first();
  await expect(tile).toBeVisible();
  await page.locator('.jp-Launcher-body').first().focus();
  await tabTo(page, tile, 200);
  await page.keyboard.press('Enter');
  const wizard = page.locator(WIZARD);
  await expect(wizard).toBeVisible();

  // Step 1, name: focus is in the name field; Enter moves on.
  await expect(wizard.getByTestId('wizard-name')).toBeFocused({
    timeout: 15_000
  });
  await scan(page, 'wizard step "name" (light)', WIZARD);
  await page.keyboard.type(apiName);
  await page.keyboard.press('Enter');

  // Step 2, the model: focus stays in the wizard after the file list loaded; the folder's
  // only model file is picked already and the framework follows it; Tab reaches both.
  await expect(currentStep(page)).toHaveAttribute('data-step', 'model');
  const row = wizard.locator(`input[data-path="${modelPath}"]`);
  await expect(row).toBeVisible({ timeout: 30_000 });
  await expectFocusIn(page, WIZARD, 'once the file list has loaded');
  await tabTo(page, row, 80);
  await expect(row).toBeChecked();
  const framework = wizard.getByTestId('wizard-template');
  await tabTo(page, framework, 20);
  await expect(framework).toHaveValue('sklearn');
  await scan(page, 'wizard step "model" (light)', WIZARD);
  await tabTo(page, wizard.getByTestId('wizard-next'), 20);
  await page.keyboard.press('Enter');

  // Step 3, review: focus in the requirements (pinned to the kernel's versions); main.py in
  // JupyterLab's code editor is reached by Tab and left with Escape then Tab, as JupyterLab's
  // editors are; Create and deploy with Enter.
  await expect(currentStep(page)).toHaveAttribute('data-step', 'review');
  await expectFocusIn(page, WIZARD, 'on the review step');
  await expect(wizard.getByTestId('wizard-requirements')).toBeFocused({
    timeout: 15_000
  });
  await expect(wizard.getByTestId('wizard-requirements')).toHaveValue(
    /^scikit-learn==/m,
    { timeout: 60_000 }
  );
  await expect(wizard.getByTestId('planned-files')).toContainText(
    `${apiName}/model/model.joblib`
  );
  const mainPy = wizard.locator('[data-testid="main-py"] [contenteditable]');
  await tabTo(page, mainPy, 40);
  await expect(mainPy).toHaveAttribute('aria-label', 'src/main.py');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  await expect(mainPy).not.toBeFocused();
  await expectFocusIn(page, WIZARD, 'after leaving the main.py editor');
  await scan(page, 'wizard step "review" (light)', WIZARD);
  await tabTo(page, wizard.getByTestId('wizard-create-deploy'), 40);
  await page.keyboard.press('Enter');

  // The log panel streams the build and the deploy, to its end.
  const log = page.locator(LOG).last();
  await expect(log).toBeVisible({ timeout: 60_000 });
  await expect(log).toHaveAttribute('data-state', 'succeeded', {
    timeout: 420_000
  });
  await expect(log.locator('.jp-HubApi-logLine.jp-mod-result')).toContainText(
    `/${apiName}`
  );
  await scan(page, 'log panel (light)', LOG);
  jobId = (await log.getAttribute('data-job-id'))!;

  // The deployments panel, from the command palette; the card's Test button by Tab + Enter.
  await palette(page, 'Open Deployments Panel');
  const panel = page.locator(`.jp-MainAreaWidget ${DEPLOYMENTS}`);
  const card = panel.locator(`[data-api="${apiName}"]`);
  await expect(card).toBeVisible({ timeout: 30_000 });
  await expectFocusIn(page, '#hub-api-deployments-main', 'when it opens');
  await scan(page, 'deployments panel (light)', DEPLOYMENTS);
  await tabTo(page, card.getByTestId('api-test'), 120);
  await page.keyboard.press('Enter');

  // The test console: from the method to the JSON editor, out of it (Escape, Tab) to Send.
  const apiPanel = page.locator(`${API_PANEL}[data-api="${apiName}"]`);
  const consoleWidget = apiPanel.getByTestId('test-console');
  await expect(consoleWidget).toBeVisible({ timeout: 30_000 });
  await expectFocusIn(page, API_PANEL, 'when the test console opens');
  const method = consoleWidget.getByTestId('test-method');
  await tabTo(page, method, 60);
  await expect(method).toHaveValue('POST');
  const editable = consoleWidget.locator(
    '[data-testid="json-editor"] [contenteditable]'
  );
  await tabTo(page, editable, 10);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  await expect(consoleWidget.getByTestId('test-send')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(consoleWidget.getByTestId('test-status')).toHaveText(
    'HTTP 200',
    { timeout: 180_000 }
  );
  await expect(consoleWidget.getByTestId('test-body')).toContainText(
    '"prediction"'
  );
  // Back into the editor with Shift+Tab, and Ctrl+Enter sends from there.
  await page.keyboard.press('Shift+Tab');
  await expect(editable).toBeFocused();
  await page.keyboard.press('Control+Enter');
  await expect(consoleWidget.getByTestId('test-status')).toHaveText(
    'HTTP 200',
    { timeout: 120_000 }
  );
  await scan(page, 'test console (light)', API_PANEL);

  // Keys and Versions tabs of the API's panel.
  for (const tab of ['Keys', 'Versions']) {
    await apiPanel.locator('.lm-TabBar-tab', { hasText: tab }).focus();
    await page.keyboard.press('Enter');
    await expect(
      apiPanel.locator('.lm-TabBar-tab.lm-mod-current', { hasText: tab })
    ).toBeVisible();
    await scan(page, `${tab.toLowerCase()} tab (light)`, API_PANEL);
  }
});

test('axe-core finds no violation in the extension views in the dark theme', async ({
  page,
  tmpPath
}) => {
  test.skip(!apiName, 'needs the API the keyboard test deployed');
  test.setTimeout(300_000);
  const modelPath = await uploadModel(page, tmpPath);
  await page.theme.setDarkTheme();

  // The wizard, every step (no deploy).
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('hub-api:new');
  });
  const wizard = page.locator(WIZARD);
  await expect(wizard.getByTestId('wizard-name')).toBeFocused({
    timeout: 30_000
  });
  await scan(page, 'wizard step "name" (dark)', WIZARD);
  await page.keyboard.type(uniqueName('dark'));
  for (const step of ['model', 'review']) {
    await wizard.getByTestId('wizard-next').click();
    await expect(currentStep(page)).toHaveAttribute('data-step', step);
    if (step === 'model') {
      // The folder's only model file is picked already.
      const row = wizard.locator(`input[data-path="${modelPath}"]`);
      await expect(row).toBeChecked({ timeout: 30_000 });
    }
    await scan(page, `wizard step "${step}" (dark)`, WIZARD);
  }

  // The deployments panel and the API's panel: test console, keys, versions.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('hub-api:deployments');
  });
  const card = page.locator(
    `.jp-MainAreaWidget ${DEPLOYMENTS} [data-api="${apiName}"]`
  );
  await expect(card).toBeVisible({ timeout: 30_000 });
  await scan(page, 'deployments panel (dark)', DEPLOYMENTS);
  const apiPanel = page.locator(`${API_PANEL}[data-api="${apiName}"]`);
  for (const tab of ['test', 'keys', 'versions']) {
    await page.evaluate(
      async ([api, tab]) => {
        await (window as any).jupyterapp.commands.execute('hub-api:open-api', {
          api,
          tab
        });
      },
      [apiName, tab]
    );
    await expect(apiPanel).toBeVisible({ timeout: 30_000 });
    await scan(page, `API panel, tab "${tab}" (dark)`, API_PANEL);
  }

  // The log panel of the keyboard test's job (its project folder is gone with that test's
  // folder: the job's log is kept by the server extension).
  await page.evaluate(async jobId => {
    await (window as any).jupyterapp.commands.execute('hub-api:open-log', {
      jobId
    });
  }, jobId);
  const log = page.locator(`${LOG}[data-job-id="${jobId}"]`);
  await expect(log).toHaveAttribute('data-state', 'succeeded', {
    timeout: 60_000
  });
  await scan(page, 'log panel (dark)', LOG);
  await page.theme.setLightTheme();
});
