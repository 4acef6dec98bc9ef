/**
 * The whole journey of DESIGN.md section 1 in a real browser, against the real server
 * extension, the real hub CLI and the real platform: model file → wizard → create → build &
 * deploy with a live log → deployments panel → test console → the same call from Python.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

import {
  dismissNotifications,
  openWizardFromTile,
  PYTHON,
  shot,
  uniqueName,
  uploadModel
} from './helpers';

test.describe.configure({ mode: 'serial' });

// Room for the panels in the screenshots of the walkthrough.
test.use({ viewport: { width: 1280, height: 860 } });

test('from a model file to a live API called from Python', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(420_000);
  const modelPath = await uploadModel(page, tmpPath);
  const name = uniqueName('iris');

  await shot(page, '01-launcher');
  await openWizardFromTile(page);
  const wizard = page.getByTestId('hub-api-wizard');
  await expect(wizard.getByTestId('handshake-problem')).toBeHidden();
  // Step 1: the name (typed: not a click), then Next.
  await wizard.getByTestId('wizard-name').fill(name);
  await shot(page, '02-wizard-name');
  await wizard.getByTestId('wizard-next').click();

  // Step 2, the model: the file tree of the server, with sizes; the folder's only model file
  // is picked already, and the framework follows it (scikit-learn for a .joblib).
  const row = wizard.locator(`input[data-path="${modelPath}"]`);
  await expect(row).toBeVisible();
  await expect(row).toBeChecked();
  await expect(wizard.getByTestId('picked-total')).toContainText(
    /total \d+(\.\d)? (B|KB)/
  );
  await expect(wizard.getByTestId('wizard-template')).toHaveValue('sklearn');
  await shot(page, '03-wizard-model-files');
  await wizard.getByTestId('wizard-next').click();

  // Step 3, the review: the requirements pinned to the versions the kernel has installed
  // (JupyterLab's default kernel, this venv's Python), each line saying where it came from.
  const sklearn = execFileSync(PYTHON, [
    '-c',
    'import sklearn; print(sklearn.__version__)'
  ])
    .toString()
    .trim();
  const requirements = wizard.getByTestId('wizard-requirements');
  await expect(requirements).toHaveValue(
    new RegExp(`^scikit-learn==${sklearn.replace(/\./g, '\\.')}$`, 'm'),
    { timeout: 60_000 }
  );
  await expect(wizard.getByTestId('requirement-origins')).toContainText(
    "the template's requirements.txt, at the kernel's version"
  );
  await expect(wizard.getByTestId('requirements-source')).toContainText(
    'Pinned to the versions installed in the kernel'
  );
  // What will be written, the endpoint, and whose user name is in it.
  await expect(wizard.getByTestId('planned-files')).toContainText(
    `${name}/model/model.joblib`
  );
  await expect(wizard.getByTestId('user-hint')).toContainText(
    'Your user name on this platform is the OS user'
  );
  await shot(page, '04-wizard-review');
  // With a notification showing (as "Jupyter news" does on a first start), the primary
  // button is not under it: what the pointer hits at its centre is the button.
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('apputils:notify', {
      message: 'A notification in the corner, as Jupyter news shows one',
      type: 'info',
      options: { autoClose: false }
    })
  );
  await expect(page.locator('.Toastify__toast').first()).toBeVisible();
  const deployButton = wizard.getByTestId('wizard-create-deploy');
  expect(
    await deployButton.evaluate(node => {
      const r = node.getBoundingClientRect();
      const hit = document.elementFromPoint(
        r.left + r.width / 2,
        r.top + r.height / 2
      );
      return hit === node || node.contains(hit);
    })
  ).toBe(true);
  await deployButton.click();
  await dismissNotifications(page);

  // main.py opens in the editor, and the job's log panel streams the build and the deploy.
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: 'main.py' })
  ).toBeVisible({ timeout: 60_000 });
  const log = page.getByTestId('hub-api-log-panel').last();
  await expect(log).toBeVisible({ timeout: 30_000 });
  await expect(log.locator('.jp-HubApi-step').first()).toBeVisible({
    timeout: 60_000
  });
  await expect(log.locator('.jp-HubApi-logLine').first()).toBeVisible();
  await shot(page, '05-log-streaming');
  await expect(log).toHaveAttribute('data-state', 'succeeded', {
    timeout: 360_000
  });
  // The last line says which version went live, and where (after its time, HH:MM:SS).
  await expect(log.locator('.jp-HubApi-logLine.jp-mod-result')).toHaveText(
    new RegExp(
      `^\\d\\d:\\d\\d:\\d\\d Version #1 \\(.*build [0-9a-f]{8}\\) is live at .*/${name}$`
    )
  );
  // No two steps share a name, for the eye or for a screen reader.
  const labels = await log.locator('.jp-HubApi-stepName').allTextContents();
  expect(labels.length).toBeGreaterThan(3);
  expect(new Set(labels).size).toBe(labels.length);
  const names = await log
    .locator('.jp-HubApi-step button')
    .evaluateAll(nodes => nodes.map(n => n.getAttribute('aria-label')));
  expect(new Set(names).size).toBe(names.length);
  // The installer's ordinary progress is not shown as an error.
  const problemLines = await log
    .locator('.jp-HubApi-logLine.jp-mod-stderr')
    .allTextContents();
  expect(
    problemLines.filter(line =>
      /^(\d\d:\d\d:\d\d )?\s*(Resolved|Downloading|Downloaded|Prepared|Installed|Audited|Using)\b/.test(
        line
      )
    )
  ).toEqual([]);
  await shot(page, '06-log-succeeded');

  // Deploying the same project again takes the same log tab, and says the build was live.
  const logTab = page.locator('.lm-TabBar-tab.jp-HubApi-tab', {
    hasText: 'Build & deploy'
  });
  const project = (await logTab.first().textContent())!
    .trim()
    .replace(/^Build & deploy /, '');
  const jobId = await log.getAttribute('data-job-id');
  await page.evaluate(
    project =>
      (window as any).jupyterapp.commands.execute('hub-api:deploy', {
        project,
        kind: 'build+deploy'
      }),
    project
  );
  const again = page.getByTestId('hub-api-log-panel').last();
  await expect(again).not.toHaveAttribute('data-job-id', jobId!);
  await expect(again).toHaveAttribute('data-state', 'succeeded', {
    timeout: 180_000
  });
  await expect(logTab).toHaveCount(1);
  await expect(again.locator('.jp-HubApi-logLine.jp-mod-result')).toHaveText(
    /^\d\d:\d\d:\d\d Version #1 .* was live already at /
  );

  // The deployments panel lists the API.
  await page
    .locator('.jp-SideBar .lm-TabBar-tab[data-id="hub-api-deployments"]')
    .click();
  const panel = page.getByTestId('hub-api-deployments');
  const card = panel.locator(`[data-api="${name}"]`);
  await expect(card).toBeVisible({ timeout: 30_000 });
  const endpoint = (await card
    .getByTestId('api-endpoint')
    .textContent())!.trim();
  expect(endpoint).toMatch(new RegExp(`/${name}$`));
  await dismissNotifications(page);
  await shot(page, '07-deployments-panel');

  // A key: create one in the key table and reveal it.
  await card.getByRole('button', { name: 'Keys' }).click();
  const apiPanel = page.locator(
    `[data-testid="hub-api-api-panel"][data-api="${name}"]`
  );
  const keys = apiPanel.getByTestId('key-table');
  await keys.getByTestId('new-key-name').fill('e2e');
  await keys.getByTestId('create-key').click();
  const secret = (await keys
    .getByTestId('key-secret')
    .first()
    .textContent())!.trim();
  expect(secret.length).toBeGreaterThan(16);
  // The sidebar folds away so the API's panel has the room.
  await page
    .locator('.jp-SideBar .lm-TabBar-tab[data-id="hub-api-deployments"]')
    .click();
  await dismissNotifications(page);
  await shot(page, '08-api-keys');

  // The test console: POST returns the prediction.
  await apiPanel.locator('.lm-TabBar-tab', { hasText: 'Test' }).click();
  const consoleWidget = apiPanel.getByTestId('test-console');
  await consoleWidget.getByTestId('test-method').selectOption('POST');
  // Keyboard: Tab indents in the JSON editor, as in JupyterLab's editors; Escape then Tab
  // leaves it for Send, and Enter there sends.
  const editable = consoleWidget.locator(
    '[data-testid="json-editor"] [contenteditable]'
  );
  await editable.click();
  await page.keyboard.press('End');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  await expect(consoleWidget.getByTestId('test-send')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(consoleWidget.getByTestId('test-status')).toHaveText(
    'HTTP 200',
    { timeout: 120_000 }
  );
  // "No key": what a caller without a key gets.
  await consoleWidget.getByTestId('test-key').selectOption('no-key');
  await expect(consoleWidget.getByTestId('test-status')).toHaveCount(0);
  await consoleWidget.getByTestId('test-send').click();
  await expect(consoleWidget.getByTestId('test-status')).toHaveText('HTTP 401');
  await expect(consoleWidget.getByTestId('test-body')).toContainText(
    'x-api-key'
  );
  await consoleWidget.getByTestId('test-key').selectOption({ index: 0 });
  await editable.click();
  await page.keyboard.press('Control+Enter');
  await expect(consoleWidget.getByTestId('test-status')).toHaveText(
    'HTTP 200',
    { timeout: 60_000 }
  );
  await expect(consoleWidget.getByTestId('test-body')).toContainText(
    '"prediction"'
  );
  await consoleWidget.locator('[data-snippet="Python"]').click();
  await expect(consoleWidget.getByTestId('snippet')).toContainText(
    'requests.post(endpoint'
  );
  // The whole console in sight: single-document mode, scrolled to the top.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('application:set-mode', {
      mode: 'single-document'
    });
  });
  await consoleWidget.evaluate(node => node.scrollTo(0, 0));
  await shot(page, '09-test-console');
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('application:set-mode', {
      mode: 'multiple-document'
    });
  });

  // The same call from outside the browser, with Python requests and the revealed key.
  const script = [
    'import json, sys, requests',
    'endpoint, key = sys.argv[1], sys.argv[2]',
    'headers = {"x-api-key": key, "Content-Type": "application/json"}',
    'r = requests.post(endpoint, headers=headers, data=json.dumps([[5.1, 3.5, 1.4, 0.2]]))',
    'print(r.status_code, json.dumps(r.json()))'
  ].join('\n');
  const out = execFileSync(PYTHON, ['-c', script, endpoint, secret]).toString();
  expect(out.startsWith('200 ')).toBe(true);
  const answer = JSON.parse(out.slice(4));
  expect(answer.statusCode).toBe(200);
  expect(answer.body.output[0].prediction).toBe(0);
});
