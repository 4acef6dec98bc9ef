/**
 * The notebook toolbar's Deploy button on a notebook inside a project, with unsaved changes
 * ("Save and deploy"), and cancelling the running job from its log panel.
 */
import { expect, test } from '@jupyterlab/galata';

import { dismissNotifications, shot, uniqueName } from './helpers';

// The handler sleeps at import, so the deploy's "load" step runs long enough to be cancelled.
const SLOW_MAIN = [
  'import time',
  '',
  'from hub import hub_handler',
  '',
  'time.sleep(120)  # a slow model load',
  '',
  '',
  '@hub_handler',
  'def inference_handler(inputs, context):',
  '    return inputs',
  ''
].join('\n');

// Room for the panels in the screenshots of the walkthrough.
test.use({ viewport: { width: 1280, height: 860 } });

test('Deploy from a notebook toolbar, then cancel the running job', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240_000);
  const name = uniqueName('slow');
  // The project, made through the server extension as the wizard would.
  const created = await page.evaluate(
    async ({ name, parent, main }) => {
      const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? '';
      const response = await fetch('/hub-api/projects', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-XSRFToken': decodeURIComponent(xsrf)
        },
        body: JSON.stringify({
          name,
          template: 'blank',
          parent,
          model_files: [],
          main_py: main
        })
      });
      return { status: response.status, body: await response.json() };
    },
    { name, parent: tmpPath, main: SLOW_MAIN }
  );
  expect(created.status).toBe(201);

  await page.filebrowser.openDirectory(`${tmpPath}/${name}`);
  await page.notebook.createNew('explore.ipynb');
  await page.notebook.setCell(0, 'code', 'print("exploring the model")');
  const deploy = page.locator(
    '.jp-NotebookPanel-toolbar [data-jp-item-name="hub-api-deploy"]'
  );
  await expect(deploy).toBeVisible();
  await shot(page, '11-notebook-deploy-button');
  await deploy.click();

  // Unsaved changes: the dialog offers to save first.
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('unsaved changes');
  await dialog.getByRole('button', { name: 'Save and deploy' }).click();

  const log = page.getByTestId('hub-api-log-panel').last();
  await expect(log).toBeVisible({ timeout: 30_000 });
  await expect(log.locator('.jp-HubApi-step[data-step="load"]')).toBeVisible({
    timeout: 120_000
  });
  await expect(log).toHaveAttribute('data-state', 'running');
  await dismissNotifications(page);
  await shot(page, '12-job-running');
  await log.getByTestId('job-cancel').click();
  await expect(log).toHaveAttribute('data-state', 'cancelled', {
    timeout: 30_000
  });
  await expect(log.getByTestId('job-rerun')).toBeEnabled();
  await dismissNotifications(page);
  await shot(page, '13-job-cancelled');

  // A reload restores the job's log panel, its whole log read again from the server.
  // (A plain browser reload: Galata's reload() waits for a state this layout never reaches.)
  await page.evaluate(() => window.location.reload());
  const restored = page
    .locator(`[data-testid="hub-api-log-panel"][data-job-id]`)
    .last();
  await expect(restored).toHaveAttribute('data-state', 'cancelled', {
    timeout: 60_000
  });
  await expect(
    restored.locator('.jp-HubApi-step[data-step="load"]')
  ).toBeAttached();
});
