import { encodePath } from '../src/api/client';
import { deployOutcome } from '../src/api/types';
import {
  callsPerDay,
  formatLatency,
  formatRate
} from '../src/models/deployments';
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

describe('deployments helpers', () => {
  it('counts calls per day of the month, in UTC', () => {
    const at = (iso: string) => ({
      id: iso,
      ts: Date.parse(iso) / 1000,
      time: iso,
      status: 200,
      latency_ms: 1
    });
    const days = callsPerDay(
      [
        at('2026-11-01T00:30:00Z'),
        at('2026-11-01T23:59:00Z'),
        at('2026-11-30T12:00:00Z'),
        at('2026-10-31T12:00:00Z')
      ],
      '2026-11'
    );
    expect(days.length).toBe(30);
    expect(days[0]).toBe(2);
    expect(days[29]).toBe(1);
    expect(days.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('formats rates and latencies', () => {
    expect(formatRate(0)).toBe('0 %');
    expect(formatRate(0.0123)).toBe('1.2 %');
    expect(formatRate(null)).toBe('–');
    expect(formatLatency(85.4)).toBe('85 ms');
    expect(formatLatency(1500)).toBe('1.5 s');
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
