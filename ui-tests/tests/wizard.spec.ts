/**
 * The wizard's error path and its entry points: an invalid name is shown at the field and
 * blocks the next step; the file browser's "Deploy as Hub API…" preselects the model file;
 * the versions panel shows the handshake.
 */
import { expect, test } from '@jupyterlab/galata';

import { shot, uploadModel } from './helpers';

// Room for the panels in the screenshots of the walkthrough.
test.use({ viewport: { width: 1280, height: 860 } });

test('the wizard shows an invalid name at its field, and the context menu preselects a model', async ({
  page,
  tmpPath
}) => {
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
    'template'
  );
  await wizard.getByTestId('wizard-next').click();
  await expect(wizard.locator(`input[data-path="${modelPath}"]`)).toBeChecked();
  await expect(wizard.getByTestId('picked-files')).toContainText(
    'model.joblib'
  );

  // The dark theme: only JupyterLab's CSS variables, so the wizard follows it.
  await page.theme.setDarkTheme();
  await shot(page, '14-wizard-dark-theme');

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
