import { ServerConnection } from '@jupyterlab/services';

import { HubApiError, requestAPI } from '../src/request';

/**
 * Settings whose fetch answers with the given status and body, so the client's decoding and
 * error handling are exercised on the real `ServerConnection.makeRequest` code path.
 */
function settingsAnswering(
  status: number,
  body: string
): ServerConnection.ISettings {
  const fetchImpl = async (_input: RequestInfo, _init?: RequestInit) =>
    new Response(body, {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  return ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/',
    fetch: fetchImpl as any
  });
}

describe('requestAPI', () => {
  it('decodes a JSON answer', async () => {
    const settings = settingsAnswering(200, '{"server_extension": "1.2.3"}');
    const data = await requestAPI<{ server_extension: string }>(
      'status',
      {},
      settings
    );
    expect(data.server_extension).toBe('1.2.3');
  });

  it('passes the server sentence and reason through on an error', async () => {
    const settings = settingsAnswering(
      409,
      '{"message": "A build of demo is already running (job 7).", "reason": "conflict"}'
    );
    await expect(
      requestAPI('jobs', { method: 'POST' }, settings)
    ).rejects.toMatchObject({
      status: 409,
      reason: 'conflict',
      message: 'A build of demo is already running (job 7).'
    });
  });

  it('says the server extension is missing on a bare 404', async () => {
    const settings = settingsAnswering(404, '<html>Not Found</html>');
    const error = (await requestAPI('status', {}, settings).catch(
      e => e
    )) as HubApiError;
    expect(error).toBeInstanceOf(HubApiError);
    expect(error.reason).toBe('missing_server_extension');
    expect(error.message).toMatch(/pip install jupyter_hub_api/);
  });

  it('reports an unreachable server as a network error', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as any
    });
    const error = (await requestAPI('status', {}, settings).catch(
      e => e
    )) as HubApiError;
    expect(error.reason).toBe('network');
    expect(error.message).toMatch(/could not be reached/);
  });
});
