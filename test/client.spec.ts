import { encodePath } from '../src/api/client';
import { deployOutcome } from '../src/api/types';
import { rewriteEndpoint } from '../src/plugins/core';
import { websocketURL } from '../src/request';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';

import { outcomeMessage } from '../src/plugins/jobs';

describe('encodePath', () => {
  it('encodes each segment and keeps the slashes', () => {
    expect(encodePath('my work/iris #2/')).toBe('my%20work/iris%20%232');
  });
});

describe('websocketURL', () => {
  it('builds a ws URL under /hub-api/ with the query and the token', () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/base/',
      wsUrl: 'ws://localhost:8888/base/',
      token: 'secret',
      appendToken: true
    });
    expect(websocketURL('jobs/abc/events', { offset: 12 }, settings)).toBe(
      'ws://localhost:8888/base/hub-api/jobs/abc/events?offset=12&token=secret'
    );
  });
});

describe('deployOutcome', () => {
  it('reads hub deploy results and hub build --deploy results', () => {
    expect(deployOutcome({ api: 'iris', endpoint: 'http://h/u/iris' })).toEqual(
      {
        api: 'iris',
        endpoint: 'http://h/u/iris'
      }
    );
    expect(
      deployOutcome({
        endpoint: 'http://h/u/iris',
        deploy: { api: 'iris', endpoint: 'http://h/u/iris' }
      })
    ).toEqual({ api: 'iris', endpoint: 'http://h/u/iris' });
    expect(deployOutcome({ endpoint: 'http://h/u/iris' })).toEqual({
      api: 'iris',
      endpoint: 'http://h/u/iris'
    });
    expect(deployOutcome({ build_id: 'x' })).toBeNull();
    expect(deployOutcome(null)).toBeNull();
  });
});

describe('rewriteEndpoint', () => {
  it('puts the configured platform URL in front of the path', () => {
    expect(
      rewriteEndpoint(
        'http://127.0.0.1:8470/alice/iris',
        'https://models.example.org/'
      )
    ).toBe('https://models.example.org/alice/iris');
    expect(rewriteEndpoint('http://127.0.0.1:8470/alice/iris', '')).toBe(
      'http://127.0.0.1:8470/alice/iris'
    );
  });
});

describe('outcomeMessage', () => {
  const trans = nullTranslator.load('jupyter_hub_api');
  const base = {
    id: 'j',
    kind: 'build+deploy' as const,
    project: 'iris',
    created_at: '',
    event_count: 0
  };

  it('names the endpoint of a success and the error of a failure', () => {
    expect(
      outcomeMessage({ ...base, state: 'succeeded' }, trans, 'http://h/u/iris')
    ).toBe('Build & deploy iris: live at http://h/u/iris');
    expect(
      outcomeMessage(
        {
          ...base,
          state: 'failed',
          error: { message: 'requirements: line 2 is not valid.' }
        },
        trans
      )
    ).toBe('Build & deploy iris failed: requirements: line 2 is not valid.');
    expect(
      outcomeMessage({ ...base, kind: 'build', state: 'cancelled' }, trans)
    ).toBe('Build iris was cancelled.');
  });
});
