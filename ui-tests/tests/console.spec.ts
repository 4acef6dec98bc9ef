/**
 * The test console of the deployments panel, as a user drives it: a form made from the
 * handler's type hints (issue 11.4), kept in sync with the JSON editor, sends the input and
 * shows the prediction; a generator handler's outputs arrive as a stream (issue 16.2).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { dismissNotifications, shot, uniqueName } from './helpers';

const TYPED_MAIN = [
  'from typing import Literal, TypedDict',
  '',
  'from hub import hub_handler',
  '',
  '',
  'class Query(TypedDict):',
  '    text: str',
  '    lang: Literal["en", "de"]',
  '    repeat: int',
  '',
  '',
  '@hub_handler',
  'def answer(inputs: Query, context):',
  '    return {"echo": (inputs["text"].upper() + " ") * inputs["repeat"], "lang": inputs["lang"]}',
  ''
].join('\n');

// Room for the console in the screenshots.
test.use({ viewport: { width: 1280, height: 900 } });

/** Make a project through the server extension (as the wizard does), deploy it, open its console. */
async function deployAndOpenConsole(
  page: IJupyterLabPageFixture,
  parent: string,
  name: string,
  main: string
) {
  const created = await page.evaluate(
    async ({ name, parent, main }) => {
      const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? '';
      const headers = {
        'Content-Type': 'application/json',
        'X-XSRFToken': decodeURIComponent(xsrf)
      };
      const project = await fetch('/hub-api/projects', {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name,
          template: 'blank',
          parent,
          model_files: [],
          main_py: main,
          requirements: ''
        })
      });
      // A key for the console to call with.
      const key = await fetch('/hub-api/platform/keys', {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'console' })
      });
      return { project: project.status, key: key.status };
    },
    { name, parent, main }
  );
  expect(created).toEqual({ project: 201, key: 201 });
  await page.evaluate(
    project =>
      (window as any).jupyterapp.commands.execute('hub-api:deploy', {
        project,
        kind: 'build+deploy'
      }),
    `${parent}/${name}`
  );
  const log = page.getByTestId('hub-api-log-panel').last();
  await expect(log).toHaveAttribute('data-state', 'succeeded', {
    timeout: 240_000
  });
  await page.evaluate(async api => {
    await (window as any).jupyterapp.commands.execute('hub-api:open-api', {
      api,
      tab: 'test'
    });
  }, name);
  const apiPanel = page.locator(
    `[data-testid="hub-api-api-panel"][data-api="${name}"]`
  );
  await expect(apiPanel).toBeVisible({ timeout: 30_000 });
  return apiPanel.getByTestId('test-console');
}

test('The input form made from type hints sends the prediction', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(360_000);
  const name = uniqueName('typed');
  const consoleWidget = await deployAndOpenConsole(
    page,
    tmpPath,
    name,
    TYPED_MAIN
  );
  const form = consoleWidget.getByTestId('input-form');
  await expect(form).toBeVisible({ timeout: 30_000 });
  await expect(consoleWidget).toContainText("from the handler's type hints");

  // Fill the form: a text field, a choice, a whole number.
  await form.locator('#root_text').fill('hello');
  await form.locator('#root_lang').selectOption('de');
  await form.locator('#root_repeat').fill('2');

  // The JSON view shows what the form holds, and an edit there comes back to the form.
  await consoleWidget.locator('[data-input-view="json"]').click();
  const editable = consoleWidget.locator(
    '[data-testid="json-editor"] [contenteditable]'
  );
  await expect(editable).toBeVisible();
  await expect(editable).toContainText('"text": "hello"');
  await expect(editable).toContainText('"lang": "de"');
  await expect(editable).toContainText('"repeat": 2');
  await consoleWidget.locator('[data-input-view="form"]').click();
  await expect(form.locator('#root_text')).toHaveValue('hello');
  await dismissNotifications(page);
  await shot(page, '16-test-console-form');

  await consoleWidget.getByTestId('test-send').click();
  await expect(consoleWidget.getByTestId('test-status')).toHaveText(
    'HTTP 200',
    { timeout: 120_000 }
  );
  await expect(consoleWidget.getByTestId('test-body')).toContainText(
    '"echo": "HELLO HELLO "'
  );
  await expect(consoleWidget.getByTestId('test-body')).toContainText(
    '"lang": "de"'
  );
  // The snippets send what the form holds.
  await expect(consoleWidget.getByTestId('snippet')).toContainText('"hello"');
});

const STREAM_MAIN = [
  'import time',
  '',
  'from hub import hub_handler',
  '',
  '',
  '@hub_handler',
  'def tokens(inputs: int, context):',
  '    for i in range(inputs):',
  '        yield {"token": i}',
  '        time.sleep(0.3)',
  '    raise RuntimeError("no more tokens after " + str(inputs))',
  ''
].join('\n');

test('A generator handler streams its outputs into the console', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(360_000);
  const name = uniqueName('stream');
  const consoleWidget = await deployAndOpenConsole(
    page,
    tmpPath,
    name,
    STREAM_MAIN
  );
  const form = consoleWidget.getByTestId('input-form');
  await expect(form).toBeVisible({ timeout: 30_000 });
  await form.locator('#root').fill('3');
  const toggle = consoleWidget.getByTestId('test-stream');
  await expect(toggle).toBeChecked();
  // The snippets make the streaming call.
  await expect(consoleWidget.getByTestId('snippet')).toContainText('curl -N');
  await expect(consoleWidget.getByTestId('snippet')).toContainText(
    'Accept: text/event-stream'
  );
  await consoleWidget.locator('[data-snippet="Python"]').click();
  await expect(consoleWidget.getByTestId('snippet')).toContainText(
    'stream=True'
  );

  await consoleWidget.getByTestId('test-send').click();
  const events = consoleWidget.getByTestId('stream-events');
  // Each output as it arrives, then the error the handler raised midway.
  await expect(events.locator('li[data-event="message"]')).toHaveCount(3, {
    timeout: 120_000
  });
  await expect(consoleWidget.getByTestId('stream-status')).toHaveAttribute(
    'data-state',
    'failed'
  );
  await expect(consoleWidget.getByTestId('stream-status')).toHaveText(
    'Stream failed after 3 output(s)'
  );
  await expect(consoleWidget.getByTestId('stream-invocation')).toContainText(
    /invocation \S+/
  );
  await expect(consoleWidget).toContainText(
    'RuntimeError: no more tokens after 3'
  );
  await expect(events.locator('li').first()).toHaveAttribute(
    'data-event',
    'start'
  );
  await expect(events.locator('li[data-event="message"]').nth(2)).toHaveText(
    '{"token":2}'
  );
  await dismissNotifications(page);
  await shot(page, '17-test-console-stream');

  // Without streaming: the outputs as one JSON list (here the error envelope).
  await toggle.uncheck();
  await expect(consoleWidget.getByTestId('snippet')).not.toContainText(
    'stream=True'
  );
});
