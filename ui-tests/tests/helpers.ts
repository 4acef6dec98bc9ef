/**
 * Helpers of the browser tests: a real scikit-learn model made on the spot, screenshots with
 * numbered names, and the wizard driven as a user would.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Where the screenshots of the walkthrough go (named in the README). */
export const SCREENSHOTS = path.resolve(__dirname, '..', 'screenshots');

/** The venv's Python (it has scikit-learn, joblib and requests). */
export const PYTHON = path.resolve(
  __dirname,
  '..',
  '..',
  '.venv',
  'bin',
  'python'
);

/** Save a screenshot of the page under a numbered name. */
export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** Train a tiny LogisticRegression on iris and joblib-dump it; answers the local file. */
export function makeSklearnModel(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-model-'));
  const file = path.join(dir, 'model.joblib');
  execFileSync(PYTHON, [
    '-c',
    'import sys, joblib\n' +
      'from sklearn.datasets import load_iris\n' +
      'from sklearn.linear_model import LogisticRegression\n' +
      'X, y = load_iris(return_X_y=True)\n' +
      'joblib.dump(LogisticRegression(max_iter=500).fit(X, y), sys.argv[1])\n',
    file
  ]);
  return file;
}

/** Upload a real model into the test's folder of the server root; answers its server path. */
export async function uploadModel(
  page: IJupyterLabPageFixture,
  tmpPath: string
): Promise<string> {
  const local = makeSklearnModel();
  const remote = `${tmpPath}/model.joblib`;
  expect(await page.contents.uploadFile(local, remote)).toBeTruthy();
  return remote;
}

/** A name no other test used (the platform keeps APIs across tests of one run). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1000)}`;
}

/** Open the wizard from the launcher tile. */
export async function openWizardFromTile(page: Page): Promise<void> {
  const tile = page
    .locator('.jp-LauncherCard[title^="Turn a trained model"]')
    .first();
  await expect(tile).toBeVisible();
  await tile.click();
  await expect(page.getByTestId('hub-api-wizard')).toBeVisible();
}

/** Fill the wizard's name step and go to the next one. */
export async function fillName(page: Page, name: string): Promise<void> {
  const wizard = page.getByTestId('hub-api-wizard');
  await wizard.getByTestId('wizard-name').fill(name);
  await wizard.getByTestId('wizard-next').click();
}

/** Close the notification toasts (they would cover the screenshots). */
export async function dismissNotifications(page: Page): Promise<void> {
  const close = page.getByRole('button', { name: 'Hide notification' });
  for (let n = await close.count(); n > 0; n--) {
    await close
      .first()
      .click({ timeout: 2000 })
      .catch(() => undefined);
  }
}
