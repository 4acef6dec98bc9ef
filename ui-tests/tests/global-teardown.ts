/**
 * After the browser tests: stop the platform that the hub CLI started on demand for them (it
 * outlives the jupyter server; its data is in the run's HUB_HOME).
 */
import { execFileSync } from 'child_process';
import * as path from 'path';

export default function globalTeardown(): void {
  if (!process.env.HUB_HOME) {
    return; // never touch the user's own platform
  }
  const hub = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'hub');
  try {
    execFileSync(hub, ['platform', 'stop'], {
      stdio: 'ignore',
      timeout: 30_000
    });
  } catch {
    // not running: nothing to stop
  }
}
