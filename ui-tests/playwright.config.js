/**
 * Playwright configuration of the browser tests: Galata's defaults, Debian's Chromium,
 * no video (Galata's default needs a downloaded ffmpeg), one worker (2 cores).
 */
const { execFileSync } = require('child_process');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');
const galataUtils = require('@jupyterlab/galata/lib/utils');

// Galata waits 15 s (its fixed default) for JupyterLab to start in the browser; on this
// 2-core machine at load 20+ Chromium takes ~30 s to parse and start it (measured 28 s), and
// every test then fails before its first step. A generous default for the waits that give
// none; a wait that names its own timeout keeps it. Loaded by the main process and by every
// worker (each loads this file), before any test imports Galata's page.
const galataWait = galataUtils.waitForCondition;
galataUtils.waitForCondition = (condition, timeout) =>
  galataWait(condition, timeout ?? 120000);

const PYTHON = path.resolve(__dirname, '..', '.venv', 'bin', 'python');

/**
 * `count` distinct loopback ports that the OS says are free: each bound to port 0 (the OS
 * picks one nobody listens on) and all released together. Node has no synchronous bind, and
 * the config must be ready before Playwright starts the server.
 */
function freePorts(count) {
  const code =
    'import socket\n' +
    `socks = [socket.socket() for _ in range(${count})]\n` +
    'for s in socks: s.bind(("127.0.0.1", 0))\n' +
    'print(" ".join(str(s.getsockname()[1]) for s in socks))';
  return execFileSync(PYTHON, ['-c', code]).toString().trim().split(' ');
}

// JupyterLab and the platform the tests' hub commands start each get a port the OS gave us,
// not Galata's fixed 8888 or the platform's default 8470, so a server the user runs is neither
// used nor disturbed and two runs do not collide. Chosen once, in the main process: the
// workers, the jupyter server (jupyter_server_test_config.py reads HUB_UI_JUPYTER_PORT) and the
// global teardown inherit them. A platform port that another program took in between is
// refused by the hub CLI, which checks that the platform there is the one of this HUB_HOME.
if (!process.env.HUB_UI_JUPYTER_PORT || !process.env.HUB_PLATFORM_URL) {
  const [jupyterPort, platformPort] = freePorts(2);
  process.env.HUB_UI_JUPYTER_PORT ??= jupyterPort;
  process.env.HUB_PLATFORM_URL ??= `http://127.0.0.1:${platformPort}`;
}
const TARGET_URL = `http://127.0.0.1:${process.env.HUB_UI_JUPYTER_PORT}`;
process.env.TARGET_URL = TARGET_URL; // Galata's default base URL

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
    baseURL: TARGET_URL,
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
    url: `${TARGET_URL}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
