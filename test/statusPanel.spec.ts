import { HubApiError } from '../src/request';
import { handshake } from '../src/statusPanel';
import { FRONTEND_VERSION } from '../src/version';

describe('handshake', () => {
  it('is ok when the server extension matches and the CLI runs', async () => {
    const result = await handshake(async () => ({
      server_extension: FRONTEND_VERSION,
      cli: FRONTEND_VERSION
    }));
    expect(result.ok).toBe(true);
    expect(result.problem).toBeNull();
  });

  it('names both versions when they differ', async () => {
    const result = await handshake(async () => ({
      server_extension: '0.0.1',
      cli: '0.0.1'
    }));
    expect(result.ok).toBe(false);
    expect(result.problem).toContain('0.0.1');
    expect(result.problem).toContain(FRONTEND_VERSION);
  });

  it('says why the CLI could not be run', async () => {
    const result = await handshake(async () => ({
      server_extension: FRONTEND_VERSION,
      cli: null,
      cli_error: "the 'hub' command was not found on the server's PATH"
    }));
    expect(result.ok).toBe(false);
    expect(result.problem).toMatch(/hub' command was not found/);
  });

  it('shows the missing server extension message instead of failing', async () => {
    const result = await handshake(async () => {
      throw new HubApiError(
        'The Hub API server extension is not installed',
        404,
        'x'
      );
    });
    expect(result.ok).toBe(false);
    expect(result.server).toBeNull();
    expect(result.problem).toMatch(/not installed/);
  });
});
