/**
 * Playwright configuration of the browser tests: Galata's defaults, Debian's Chromium,
 * no video (Galata's default needs a downloaded ffmpeg), one worker (2 cores).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// The platform the tests' hub commands start gets a port of its own, so a platform the user
// runs on the default port (8470) is neither used nor disturbed. Set once here, inherited by
// the jupyter server, the workers and the global teardown.
process.env.HUB_PLATFORM_URL ??= `http://127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}`;

module.exports = {
  ...baseConfig,
  workers: 1,
  retries: 0,
  timeout: 120000,
  reporter: [['list']],
  // Stops the platform the tests' hub commands started (tests/global-teardown.ts).
  globalTeardown: require.resolve('./tests/global-teardown.ts'),
  use: {
    ...baseConfig.use,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: 'http://localhost:8888/lab',
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
