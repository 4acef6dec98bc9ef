/**
 * Try in kernel in the real JupyterLab: from the wizard's Review step (nothing written yet:
 * the runner stages the picked model file) and from a project's src/main.py editor (its
 * toolbar button and its keyboard shortcut, with unsaved edits), a real scikit-learn model
 * predicts in a real kernel; invalid JSON and a raising handler are shown as a user sees them.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  fillName,
  makeSklearnModel,
  openWizardFromTile,
  shot,
  uniqueName,
  uploadModel
} from './helpers';

test.use({ viewport: { width: 1280, height: 860 } });

const MAIN_PY = `import os

import joblib

from hub import hub_handler

model = joblib.load(os.path.join(os.environ["MODEL_DIR"], "model.joblib"))


@hub_handler
def predict(inputs, context):
    print("rows:", len(inputs))
    if isinstance(inputs, dict):
        raise ValueError("send a list of rows, not " + str(inputs))
    return {"prediction": model.predict(inputs).tolist(), "tag": TAG}


TAG = "saved"`;

/** In the editor: replace the word inside TAG's quotes at the end of the file (unsaved). */
async function retag(page: any, from: string, to: string): Promise<void> {
  await page.locator('.jp-FileEditor .cm-content').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('ArrowLeft');
  for (let i = 0; i < from.length; i++) {
    await page.keyboard.press('Backspace');
  }
  await page.keyboard.type(to);
}

test.afterEach(async ({ page }) => {
  // The kernels this test started (sessions of type hub-api-try) are shut down.
  await page.evaluate(async () => {
    const sessions = (window as any).jupyterapp.serviceManager.sessions;
    for (const model of [...sessions.running()]) {
      if (model.type === 'hub-api-try') {
        await sessions.shutdown(model.id);
      }
    }
  });
});

test('from the wizard review, before anything is written', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000);
  await uploadModel(page, tmpPath);
  await page.filebrowser.openDirectory(tmpPath);
  const name = uniqueName('try');
  await openWizardFromTile(page);
  await fillName(page, name);
  const wizard = page.getByTestId('hub-api-wizard');
  await expect(wizard.getByTestId('wizard-template')).toHaveValue('sklearn');
  await wizard.getByTestId('wizard-next').click();

  // The review is complete once the server's templates are in (pinned to the kernel).
  await expect(wizard.getByTestId('wizard-requirements')).toHaveValue(
    /^scikit-learn==/m,
    { timeout: 120_000 }
  );
  const tryView = wizard.getByTestId('try-in-kernel');
  await expect(tryView).toBeVisible();
  const body = tryView.getByTestId('try-body');
  await expect(body).toHaveValue('[[5.1, 3.5, 1.4, 0.2]]');

  // Invalid JSON: said at the body, nothing is sent.
  await body.fill('[[5.1, 3.5');
  await tryView.getByTestId('try-run').click();
  await expect(tryView.getByTestId('try-body-error')).toContainText(
    'The body is not valid JSON'
  );

  // The template's main.py on the picked model file, in a kernel.
  await body.fill('[[6.7, 3.0, 5.2, 2.3]]');
  await tryView.getByTestId('try-run').click();
  await expect(tryView.getByTestId('try-status')).toContainText(
    'The handler answered',
    { timeout: 180_000 }
  );
  const output = tryView.getByTestId('try-output');
  await expect(output).toContainText('"prediction": 2');
  await expect(output).toContainText('"probabilities"');
  await expect(tryView.getByTestId('try-kernel')).toContainText('python3');
  await expect(tryView.getByTestId('try-where')).toContainText('@hub_handler');
  await tryView.scrollIntoViewIfNeeded();
  await shot(page, '20-try-in-kernel-wizard');

  // Nothing was written: the project folder does not exist yet.
  expect(await page.contents.directoryExists(`${tmpPath}/${name}`)).toBe(false);
});

test("from main.py's editor, with unsaved edits, a raising handler and the shortcut", async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000);
  const project = `${tmpPath}/iris-try`;
  await page.contents.uploadContent(
    JSON.stringify({ name: 'iris-try' }),
    'text',
    `${project}/hub_config.json`
  );
  await page.contents.uploadContent(MAIN_PY, 'text', `${project}/src/main.py`);
  expect(
    await page.contents.uploadFile(
      makeSklearnModel(),
      `${project}/model/model.joblib`
    )
  ).toBeTruthy();

  await page.filebrowser.open(`${project}/src/main.py`);
  const editor = page.locator('.jp-FileEditor .cm-content').first();
  await expect(editor).toContainText('TAG = "saved"');
  // An unsaved edit of the last line.
  await retag(page, 'saved', 'unsaved');
  await expect(editor).toContainText('TAG = "unsaved"');

  const toolbarButton = page.getByTestId('try-in-kernel-button');
  await expect(toolbarButton).toBeVisible();
  await toolbarButton.click();
  const panel = page.locator('.jp-HubApi-tryPanel');
  const status = panel.getByTestId('try-status');
  await expect(status).toContainText('The handler answered', {
    timeout: 180_000
  });
  const output = panel.getByTestId('try-output');
  expect(JSON.parse((await output.textContent()) ?? '')).toEqual({
    prediction: [0],
    tag: 'unsaved'
  });
  await expect(panel.getByTestId('try-printed')).toHaveText('rows: 1');
  await expect(panel.getByTestId('try-where')).toContainText(
    `${project}/model`
  );
  await shot(page, '21-try-in-kernel-editor');

  // A raising handler: its traceback, in main.py, and what it printed.
  const body = panel.getByTestId('try-body');
  await body.fill('{"rows": 1}');
  await panel.getByTestId('try-run').click();
  await expect(status).toContainText(
    "The handler raised ValueError: send a list of rows, not {'rows': 1}"
  );
  const traceback = panel.getByTestId('try-traceback');
  await expect(traceback).toContainText('main.py", line 14, in predict');
  await expect(traceback).not.toContainText('_worker.py');

  // Back in the editor: the keyboard shortcut runs again, with the editor's newest text.
  await body.fill('[[6.7, 3.0, 5.2, 2.3]]');
  await retag(page, 'unsaved', 'shortcut');
  await page.keyboard.press('Control+Shift+Enter');
  await expect(output).toContainText('"tag": "shortcut"', {
    timeout: 120_000
  });
  expect(JSON.parse((await output.textContent()) ?? '')).toEqual({
    prediction: [2],
    tag: 'shortcut'
  });
  // The file on disk was never saved by Try in kernel.
  const saved = await page.evaluate(
    async path =>
      (
        await (window as any).jupyterapp.serviceManager.contents.get(path, {
          content: true
        })
      ).content,
    `${project}/src/main.py`
  );
  expect(saved).not.toContain('unsaved');
});
