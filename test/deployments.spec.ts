/**
 * The deployments models over the server extension's real answer shapes (test/server.ts),
 * through the real HubClient / requestAPI / ServerConnection path.
 */
import {
  ApiModel,
  callsPerDay,
  DeploymentsModel,
  formatLatency,
  formatRate
} from '../src/models/deployments';
import { NO_KEY, parseBody, TestConsoleModel } from '../src/models/testConsole';
import { key, QUOTA, serve, summary } from './server';

function platform(keys = [key()]) {
  const state = { keys: [...keys] };
  const seen = serve({
    'GET platform/apis': () => [200, { apis: [summary()], quota: QUOTA }],
    'GET platform/keys': () => [200, { keys: state.keys }],
    'POST platform/keys': req => {
      const created = key({
        id: 'k2',
        name: req.body.name,
        prefix: 'hub_cd34'
      });
      state.keys.push(created);
      return [201, { key: created, secret: 'hub_cd34-the-whole-secret' }];
    },
    'POST platform/keys/k1/reveal': () => [200, { secret: 'hub_ab12-secret' }],
    'PATCH platform/keys/k1': req => {
      state.keys[0] = { ...state.keys[0], enabled: req.body.enabled };
      return [200, { key: state.keys[0] }];
    },
    'DELETE platform/keys/k1': () => {
      state.keys = state.keys.filter(k => k.id !== 'k1');
      return [200, { deleted: 'k1' }];
    },
    'GET platform/apis/iris/versions': () => [
      200,
      {
        api: 'iris',
        versions: [
          {
            build_id: 'b2',
            version: '0.1.0',
            status: 'ready',
            error: null,
            created_at: '2026-11-30T11:59:00Z',
            deployed_at: '2026-11-30T12:00:00Z',
            version_number: 2,
            live: true
          },
          {
            build_id: 'b1',
            version: '0.1.0',
            status: 'retired',
            error: null,
            created_at: '2026-11-29T10:00:00Z',
            deployed_at: '2026-11-29T10:01:00Z',
            version_number: 1,
            live: false
          }
        ]
      }
    ],
    'POST platform/apis/iris/rollback': () => [
      200,
      { api: 'iris', live_version: { version_number: 1 } }
    ],
    'GET platform/apis/iris/logs': () => [
      200,
      {
        api: 'iris',
        lines: [
          {
            id: 7,
            ts: 1764504000.5,
            stream: 'stdout',
            line: 'loaded',
            invocation_id: null
          }
        ],
        next: 7
      }
    ],
    'POST platform/apis/iris/invoke': () => [
      200,
      {
        status: 200,
        body: { statusCode: 200, body: { prediction: [0] } },
        duration_ms: 12.4,
        endpoint: 'http://127.0.0.1:8765/root/iris'
      }
    ]
  });
  return { seen, state };
}

describe('formatting', () => {
  it('formats rates and latencies', () => {
    expect(formatRate(0)).toBe('0 %');
    expect(formatRate(0.0123)).toBe('1.2 %');
    expect(formatRate(null)).toBe('–');
    expect(formatLatency(85.4)).toBe('85 ms');
    expect(formatLatency(1500)).toBe('1.5 s');
  });

  it("pads the summary's calls per day to its month", () => {
    const days = callsPerDay(summary());
    expect(days.length).toBe(30);
    expect(days.slice(0, 4)).toEqual([2, 0, 1, 0]);
    expect(callsPerDay(summary({ month: '2026-02' })).length).toBe(28);
    // A platform without the counters: an empty chart, not a failed panel.
    const older = { ...summary(), calls_per_day: undefined } as any;
    expect(callsPerDay(older)).toEqual(new Array(30).fill(0));
  });
});

describe('DeploymentsModel', () => {
  it('reads the APIs, quota and keys, and shares concurrent refreshes', async () => {
    const { seen } = platform();
    const model = new DeploymentsModel();
    let changes = 0;
    model.stateChanged.connect(() => changes++);
    expect(model.loading).toBe(true);
    await Promise.all([model.refresh(), model.refresh()]);
    expect(seen.filter(r => r.path === 'platform/apis').length).toBe(1);
    expect(model.loading).toBe(false);
    expect(model.api('iris')?.status).toBe('ready');
    expect(model.quota?.monthly_calls).toBe(1000);
    expect(model.keys.map(k => k.name)).toEqual(['default']);
    expect(changes).toBe(1);
  });

  it("keeps the server's sentence when the platform cannot be reached", async () => {
    serve({
      'GET platform/apis': () => [
        503,
        {
          message: 'The platform at http://127.0.0.1:8765 is not running.',
          reason: 'platform_unavailable'
        }
      ],
      'GET platform/keys': () => [200, { keys: [] }]
    });
    const model = new DeploymentsModel();
    await model.refresh();
    expect(model.error).toBe(
      'The platform at http://127.0.0.1:8765 is not running.'
    );
  });

  it('creates, reveals once, disables and deletes keys', async () => {
    const { seen } = platform();
    const model = new DeploymentsModel();
    await model.refresh();
    await model.createKey('ci');
    expect(model.revealed.get('k2')).toBe('hub_cd34-the-whole-secret');
    expect(model.keys.map(k => k.name)).toEqual(['default', 'ci']);
    expect(await model.reveal('k1')).toBe('hub_ab12-secret');
    expect(await model.reveal('k1')).toBe('hub_ab12-secret');
    expect(seen.filter(r => r.path.endsWith('/reveal')).length).toBe(1);
    model.hide('k1');
    expect(model.revealed.has('k1')).toBe(false);
    await model.setKeyEnabled('k1', false);
    expect(model.enabledKeys.map(k => k.id)).toEqual(['k2']);
    await model.deleteKey('k1');
    expect(model.keys.map(k => k.id)).toEqual(['k2']);
  });
});

describe('ApiModel', () => {
  it('loads versions and logs, and rolls back', async () => {
    const { seen } = platform();
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new ApiModel('iris', deployments);
    expect(model.summary?.calls_this_month).toBe(3);
    expect(model.callsPerDay.slice(0, 3)).toEqual([2, 0, 1]);
    const loading = model.loadVersions();
    expect(model.versions.loading).toBe(true);
    await loading;
    expect(model.versions.value?.map(v => v.version_number)).toEqual([2, 1]);
    await model.loadLogs();
    expect(model.logs.value?.[0].line).toBe('loaded');
    await model.rollback(1);
    expect(seen.find(r => r.path.endsWith('/rollback'))?.body).toEqual({
      version: '1'
    });
    model.dispose();
  });

  it('never fetches the invocation history to draw the chart', async () => {
    const { seen } = platform();
    const deployments = new DeploymentsModel();
    const model = new ApiModel('iris', deployments);
    let changes = 0;
    model.stateChanged.connect(() => changes++);
    await deployments.refresh();
    await deployments.refresh();
    expect(changes).toBe(2);
    expect(model.callsPerDay[0]).toBe(2);
    expect(seen.some(r => r.path.endsWith('/invocations'))).toBe(false);
  });

  it('keeps what it had and says why when a load fails', async () => {
    platform();
    const deployments = new DeploymentsModel();
    const model = new ApiModel('iris', deployments);
    await model.loadInvocations();
    expect(model.invocations.value).toBeNull();
    expect(model.invocations.error).toMatch(/No route GET/);
  });
});

describe('ApiModel drift', () => {
  it("says when the live version is not the project's last build", async () => {
    const state = { live: 'b2' };
    const version = (build: string, n: number) => ({
      build_id: build,
      version: '0.1.0',
      status: 'standby',
      error: null,
      created_at: '2026-11-30T11:59:00Z',
      deployed_at: '2026-11-30T12:00:00Z',
      version_number: n,
      live: build === state.live,
      changes: n === 1 ? ['first version'] : ['src/main.py changed']
    });
    serve({
      'GET platform/apis': () => [200, { apis: [summary()], quota: QUOTA }],
      'GET platform/keys': () => [200, { keys: [key()] }],
      'GET platform/apis/iris/versions': () => [
        200,
        { api: 'iris', versions: [version('b2', 2), version('b1', 1)] }
      ],
      'GET projects': () => [
        200,
        {
          projects: [
            { name: 'other', path: 'work/other', last_build: 'x9' },
            { name: 'iris', path: 'work/iris', last_build: 'b2' }
          ]
        }
      ],
      'POST platform/apis/iris/rollback': () => {
        state.live = 'b1';
        return [200, { api: 'iris' }];
      }
    });
    const model = new ApiModel('iris', new DeploymentsModel());
    await model.loadVersions();
    expect(model.project?.path).toBe('work/iris');
    expect(model.drift).toBeNull();
    await model.rollback(1);
    expect(model.drift).toEqual({
      project: { name: 'iris', path: 'work/iris', last_build: 'b2' },
      live: expect.objectContaining({ build_id: 'b1', version_number: 1 }),
      built: expect.objectContaining({ build_id: 'b2', version_number: 2 })
    });
  });
});

describe('ApiModel settings', () => {
  it('sends only the settings that differ from the live version', async () => {
    const runtime = {
      min_workers: 0,
      max_workers: 2,
      idle_seconds: 300,
      timeout_seconds: 60,
      async_timeout_seconds: 900,
      memory_mb: 4096
    };
    const seen = serve({
      'GET platform/apis': () => [200, { apis: [summary()], quota: QUOTA }],
      'GET platform/keys': () => [200, { keys: [key()] }],
      'GET platform/apis/iris/versions': () => [
        200,
        {
          api: 'iris',
          versions: [
            {
              build_id: 'b1',
              version: '0.1.0',
              status: 'live',
              error: null,
              created_at: '2026-11-30T11:59:00Z',
              deployed_at: '2026-11-30T12:00:00Z',
              version_number: 1,
              live: true,
              changes: ['first version'],
              runtime
            }
          ]
        }
      ],
      'PATCH platform/apis/iris/runtime': () => [
        200,
        { api: 'iris', version_number: 2, build_id: 'b2' }
      ]
    });
    const model = new ApiModel('iris', new DeploymentsModel());
    await model.loadVersions();
    expect(model.runtime).toEqual(runtime);
    expect(await model.updateRuntime({ ...runtime })).toBeNull();
    expect(seen.some(r => r.method === 'PATCH')).toBe(false);
    expect(
      await model.updateRuntime({ ...runtime, min_workers: 1, max_workers: 3 })
    ).toBe(2);
    expect(seen.find(r => r.method === 'PATCH')?.body).toEqual({
      min_workers: 1,
      max_workers: 3
    });
  });
});

describe('TestConsoleModel', () => {
  it('parses JSON and says what is wrong otherwise', () => {
    expect(parseBody('[1, 2]')).toEqual({ value: [1, 2] });
    expect(parseBody('  ').error).toMatch(/empty/);
    expect(parseBody('{x}').error).toMatch(/not valid JSON/);
  });

  it('sends with the first enabled key and shows the answer', async () => {
    const { seen } = platform();
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    expect(model.keyId).toBe('k1');
    const result = await model.send();
    expect(result?.status).toBe(200);
    expect(model.call.kind).toBe('answer');
    expect(seen.find(r => r.path.endsWith('/invoke'))?.body).toEqual({
      method: 'POST',
      input: [[5.1, 3.5, 1.4, 0.2]],
      key_id: 'k1'
    });
  });

  it('calls without any key when "No key" is chosen', async () => {
    const { seen } = platform();
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    await model.send();
    model.keyId = NO_KEY;
    expect(model.call.kind).toBe('none'); // the answer got with a key is gone
    expect(model.canSend).toBe(true);
    await model.setIncludeKey(true);
    expect(model.includeKey).toBe(false); // no secret to put into the snippets
    await model.send();
    const calls = seen.filter(r => r.path.endsWith('/invoke'));
    expect(calls[calls.length - 1].body).toEqual({
      method: 'POST',
      input: [[5.1, 3.5, 1.4, 0.2]],
      no_key: true
    });
    expect(seen.some(r => r.path.endsWith('/reveal'))).toBe(false);
  });

  it('clears the answer on invalid JSON and shows no snippet for it', async () => {
    platform();
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    await model.send();
    model.body = '[[5.1, 3.5';
    expect(model.call.kind).toBe('none');
    expect(model.bodyError).toMatch(/not valid JSON/);
    expect(model.canSend).toBe(false);
    expect(model.snippet('http://h/root/iris')).toBeNull();
    expect(await model.send()).toBeNull();
    expect(model.call).toEqual({
      kind: 'problem',
      message: model.bodyError
    });
    model.body = '[1]';
    expect(model.snippet('http://h/root/iris')).toContain("-d '[1]'");
  });

  it('has no body for GET and puts the revealed key into the snippet', async () => {
    const { seen } = platform();
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    model.method = 'GET';
    model.body = 'not json';
    expect(model.bodyError).toBeNull();
    expect(model.canSend).toBe(true);
    expect(model.snippet('http://h/root/iris')).not.toContain('null');
    await model.setIncludeKey(true);
    expect(model.snippet('http://h/root/iris')).toContain('hub_ab12-secret');
    await model.send();
    expect(seen.find(r => r.path.endsWith('/invoke'))?.body.method).toBe('GET');
  });

  it('says to create a key when there is none', async () => {
    platform([]);
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    expect(model.canSend).toBe(false);
    expect(await model.send()).toBeNull();
    expect(model.call).toEqual({
      kind: 'problem',
      message: 'Create or enable an API key first (Keys tab).'
    });
  });
});
