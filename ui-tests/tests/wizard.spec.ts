/**
 * The wizard's error path and its entry points: an invalid name is shown at the field and
 * blocks the next step; the file browser's "Deploy as Hub API…" preselects the model file;
 * the versions panel shows the handshake; a model saved by the real MLflow is recognised in
 * the model step and created as `hub init --from-mlflow` creates it.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { PYTHON, shot, uniqueName, uploadModel } from './helpers';

/** A text file's content, read through JupyterLab's contents manager (as the editor reads it). */
async function readText(
  page: IJupyterLabPageFixture,
  path: string
): Promise<string> {
  return page.evaluate(
    async p =>
      (
        await (window as any).jupyterapp.serviceManager.contents.get(p, {
          content: true,
          type: 'file',
          format: 'text'
        })
      ).content as string,
    path
  );
}

// Room for the panels in the screenshots of the walkthrough.
test.use({ viewport: { width: 1280, height: 860 } });

test('the wizard shows an invalid name at its field, and the context menu preselects a model', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000);
  const modelPath = await uploadModel(page, tmpPath);
  await page.filebrowser.refresh();

  // Right-click the model file: "Deploy as Hub API…" opens the wizard with it picked.
  await page
    .locator('.jp-DirListing-item', { hasText: 'model.joblib' })
    .click({ button: 'right' });
  await page
    .locator('.lm-Menu-item', { hasText: 'Deploy as Hub API…' })
    .click();
  const wizard = page.getByTestId('hub-api-wizard');
  await expect(wizard).toBeVisible();

  // An invalid name: the error is at the field, and Next does not move on.
  const name = wizard.getByTestId('wizard-name');
  await name.fill('My Model');
  const error = wizard.getByTestId('name-error');
  await expect(error).toContainText('must start with a lower-case letter');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await wizard.getByTestId('wizard-next').click();
  await expect(wizard.locator('[aria-current="step"]')).toHaveAttribute(
    'data-step',
    'name'
  );
  await name.fill('my_model');
  await expect(error).toContainText('"_" is not allowed');
  await shot(page, '10-wizard-invalid-name');

  // A valid name, then the keyboard: Enter moves on.
  await name.fill('iris-from-menu');
  await expect(error).toHaveText('');
  await name.press('Enter');
  await expect(wizard.locator('[aria-current="step"]')).toHaveAttribute(
    'data-step',
    'model'
  );
  await expect(wizard.locator(`input[data-path="${modelPath}"]`)).toBeChecked();
  await expect(wizard.getByTestId('picked-files')).toContainText(
    'model.joblib'
  );

  // The dark theme: only JupyterLab's CSS variables, so the wizard follows it.
  await page.theme.setDarkTheme();
  await shot(page, '14-wizard-dark-theme');

  // The search box filters the folder's rows by name, ignoring case; Escape shows them all.
  const search = wizard.getByTestId('file-search');
  await search.fill('zzz');
  await expect(wizard.getByTestId('file-search-empty')).toHaveText(
    "No file matches 'zzz'."
  );
  await expect(wizard.locator('tr[data-name]')).toHaveCount(0);
  await search.fill('JOBLIB');
  await expect(wizard.locator('tr[data-name="model.joblib"]')).toBeVisible();
  await search.press('Escape');
  await expect(search).toHaveValue('');
  await expect(wizard.locator(`input[data-path="${modelPath}"]`)).toBeChecked();

  // The review: main.py in JupyterLab's code editor; the edit is what Create writes.
  await wizard.getByTestId('wizard-next').click();
  const editor = wizard.locator('[data-testid="main-py"] .cm-content');
  // CodeMirror renders the visible lines only: the top of the file is what it shows.
  await expect(editor).toContainText('from hub import hub_handler', {
    timeout: 60_000
  });
  await expect(editor).toHaveAttribute('aria-label', 'src/main.py');
  const reset = wizard.getByTestId('main-py-reset');
  await expect(reset).toBeDisabled();
  await editor.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('print("edited in the wizard")');
  await expect(reset).toBeEnabled();
  // Try in kernel runs the text the editor holds (its top-level print is what it printed).
  const tryView = wizard.getByTestId('try-in-kernel');
  await tryView.getByTestId('try-run').click();
  await expect(tryView.getByTestId('try-status')).toContainText(
    'The handler answered',
    { timeout: 180_000 }
  );
  await expect(tryView.getByTestId('try-printed')).toContainText(
    'edited in the wizard'
  );
  await wizard.getByTestId('wizard-create').click();
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: 'main.py' })
  ).toBeVisible({ timeout: 120_000 });
  const created = await readText(page, `${tmpPath}/iris-from-menu/src/main.py`);
  expect(created).toContain('print("edited in the wizard")');
  expect(created).toContain('@hub_handler');

  // The versions panel: all three parts of one version.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('hub-api:status');
  });
  const status = page.getByTestId('hub-api-status');
  const version = require('../../package.json').version;
  for (const key of ['frontend', 'server', 'cli']) {
    await expect(status.locator(`[data-version="${key}"]`)).toHaveText(version);
  }
});

test('a model saved by MLflow is recognised in the model step and created as hub init --from-mlflow does', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000); // importing mlflow takes seconds on a busy machine
  // A model saved by the real mlflow package, as a data scientist saves one (no server).
  const local = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-mlflow-'));
  execFileSync(PYTHON, [
    '-c',
    'import sys, mlflow.sklearn\n' +
      'from sklearn.datasets import load_iris\n' +
      'from sklearn.linear_model import LogisticRegression\n' +
      'X, y = load_iris(return_X_y=True)\n' +
      'mlflow.sklearn.save_model(LogisticRegression(max_iter=300).fit(X, y), sys.argv[1])\n',
    path.join(local, 'iris_model')
  ]);
  expect(await page.contents.uploadDirectory(local, tmpPath)).toBeTruthy();
  const folder = `${tmpPath}/iris_model`;
  await page.evaluate(async parent => {
    await (window as any).jupyterapp.commands.execute('hub-api:new', {
      parent
    });
  }, tmpPath);
  const wizard = page.getByTestId('hub-api-wizard');
  const name = uniqueName('iris-mlflow');
  await wizard.getByTestId('wizard-name').fill(name);
  await wizard.getByTestId('wizard-next').click();

  // The model step: the folder is marked, picked (the only model here), and the framework
  // is "MLflow model".
  const row = wizard.locator(`tr[data-name="iris_model"]`);
  await expect(row.getByTestId('mlflow-badge')).toHaveText('MLflow model');
  await expect(wizard.locator(`input[data-path="${folder}"]`)).toBeChecked();
  await expect(wizard.getByTestId('wizard-template')).toHaveValue('mlflow');
  await expect(wizard.getByTestId('template-hint')).toContainText(
    'was saved by MLflow'
  );
  await wizard.getByTestId('wizard-next').click();

  // The review: MLflow's recorded requirements (pinned, without MLflow itself) and the
  // main.py that loads the model with its own format.
  const recorded = fs
    .readFileSync(path.join(local, 'iris_model', 'requirements.txt'), 'utf-8')
    .split('\n')
    .map(l => l.trim())
    .find(l => l.startsWith('scikit-learn=='))!;
  await expect(wizard.getByTestId('wizard-requirements')).toHaveValue(
    new RegExp(`^${recorded.replace(/[.+]/g, '\\$&')}$`, 'm')
  );
  await expect(wizard.getByTestId('wizard-requirements')).not.toHaveValue(
    /^mlflow/m
  );
  await expect(wizard.getByTestId('requirement-origins')).toContainText(
    'recorded by MLflow'
  );
  // In the editor (the visible top of it); the whole text is checked in the file written.
  await expect(wizard.getByTestId('main-py')).toContainText(
    'A model saved by MLflow'
  );
  await wizard.getByTestId('wizard-create').click();

  // main.py opens; the project holds the MLflow folder under model/.
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: 'main.py' })
  ).toBeVisible({ timeout: 60_000 });
  expect(
    await page.contents.fileExists(
      `${tmpPath}/${name}/model/iris_model/MLmodel`
    )
  ).toBe(true);
  expect(
    await page.contents.fileExists(`${tmpPath}/${name}/src/requirements.txt`)
  ).toBe(true);
  expect(await readText(page, `${tmpPath}/${name}/src/main.py`)).toContain(
    'skops.io.load'
  );
});
