/// <reference types="node" />
/**
 * The TypeScript types of the platform's answers are generated (`jlpm gen:types`) from its
 * OpenAPI document, which is generated from the platform's code: the checked-in file must be
 * what openapi-typescript makes of the checked-in document today.
 */
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'node_modules', '.bin', 'openapi-typescript');

describe('src/api/generated', () => {
  it('platform.ts is current with jupyter_hub_api/platform/openapi.yaml', () => {
    const generated = execFileSync(
      BIN,
      [path.join(ROOT, 'jupyter_hub_api', 'platform', 'openapi.yaml')],
      {
        encoding: 'utf-8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 120000
      }
    );
    const checkedIn = readFileSync(
      path.join(ROOT, 'src', 'api', 'generated', 'platform.ts'),
      'utf-8'
    );
    // If this fails: run `jlpm gen:types` and commit src/api/generated/platform.ts.
    expect(checkedIn).toBe(generated);
  }, 120000);
});
