/**
 * Issue 11.4 as a user meets it: the deploy log's lines carry their time (a Times toggle hides
 * them), and an API is deleted from the deployments panel after a confirmation whose focus is
 * on Cancel; the card and the API's panel go, and its endpoint answers 404.
 */
import { expect, test } from '@jupyterlab/galata';

import { uniqueName } from './helpers';

const MAIN = [
  'from hub import hub_handler',
  '',
  '',
  '@hub_handler',
  'def echo(inputs, context):',
  '    print("called", flush=True)',
  '    return {"echo": inputs}',
  ''
].join('\n');

test('Log lines show their time; an API is deleted from its card', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(360_000);
  const name = uniqueName('gone');
  const status = await page.evaluate(
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
          main_py: main,
          requirements: ''
        })
      });
      return response.status;
    },
    { name, parent: tmpPath, main: MAIN }
  );
  expect(status).toBe(201);
  await page.evaluate(
    project =>
      (window as any).jupyterapp.commands.execute('hub-api:deploy', {
        project,
        kind: 'build+deploy'
      }),
    `${tmpPath}/${name}`
  );
  const log = page.getByTestId('hub-api-log-panel').last();
  await expect(log).toHaveAttribute('data-state', 'succeeded', {
    timeout: 240_000
  });

  // Every row starts with HH:MM:SS; the toggle hides them.
  const firstRow = log.locator('.jp-HubApi-logLine').first();
  await expect(firstRow.locator('.jp-HubApi-logTime')).toHaveText(
    /^\d\d:\d\d:\d\d $/
  );
  const times = log.getByTestId('job-times');
  await expect(times).toBeChecked();
  await times.uncheck();
  await expect(log.locator('.jp-HubApi-logTime')).toHaveCount(0);
  await times.check();
  await expect(firstRow.locator('.jp-HubApi-logTime')).toHaveCount(1);

  // The API's panel is open; delete the API from its card in the sidebar.
  await page.evaluate(async api => {
    await (window as any).jupyterapp.commands.execute('hub-api:open-api', {
      api
    });
  }, name);
  const apiPanel = page.locator(
    `[data-testid="hub-api-api-panel"][data-api="${name}"]`
  );
  await expect(apiPanel).toBeVisible({ timeout: 30_000 });
  await page.evaluate(() =>
    (window as any).jupyterapp.shell.activateById('hub-api-deployments')
  );
  const card = page.locator(
    `[data-testid="hub-api-deployments"] [data-api="${name}"]`
  );
  await expect(card).toBeVisible({ timeout: 30_000 });
  await card.getByTestId('api-delete').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(`Delete the API "${name}"?`);
  await expect(dialog).toContainText('404');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(card).toHaveCount(0, { timeout: 60_000 });
  await expect(apiPanel).toHaveCount(0);
  await expect(
    page.locator('.Toastify__toast').filter({
      hasText: `The API ${name} is deleted.`
    })
  ).toBeVisible();

  // Its endpoint is gone for callers too.
  const answered = await page.evaluate(async api => {
    const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? '';
    const response = await fetch(`/hub-api/platform/apis/${api}/invoke`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-XSRFToken': decodeURIComponent(xsrf)
      },
      body: JSON.stringify({ body: 1 })
    });
    return (await response.json()).status;
  }, name);
  expect(answered).toBe(404);
});
