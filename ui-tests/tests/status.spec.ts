import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

/** Where the screenshots of the walkthrough go (named in the README). */
export const SCREENSHOTS = path.resolve(__dirname, '..', 'screenshots');

test('the Hub API tile opens a panel with the three versions', async ({ page }) => {
  const tile = page.locator('.jp-LauncherCard[title^="Turn a trained model"]').first();
  await expect(page.locator('.jp-Launcher-sectionTitle', { hasText: 'Hub API' })).toBeVisible();
  await expect(tile).toBeVisible();
  await page.screenshot({ path: path.join(SCREENSHOTS, '01-launcher.png') });

  await tile.click();
  const panel = page.getByTestId('hub-api-status');
  await expect(panel).toBeVisible();
  const packageVersion = require('../../package.json').version;
  for (const key of ['frontend', 'server', 'cli']) {
    await expect(panel.locator(`[data-version="${key}"]`)).toHaveText(packageVersion);
  }
  await expect(panel.getByRole('alert')).toHaveCount(0);
  await page.screenshot({ path: path.join(SCREENSHOTS, '02-status-panel.png') });
});
