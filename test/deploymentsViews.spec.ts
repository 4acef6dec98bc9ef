/**
 * The deployments views rendering their models (React through VDomRenderer, in jsdom), over
 * the server extension's real answer shapes (test/server.ts).
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ApiModel, DeploymentsModel } from '../src/models/deployments';
import { TestConsoleModel } from '../src/models/testConsole';
import {
  DeploymentsPanel,
  InvocationsTab,
  OverviewTab
} from '../src/widgets/deployments';
import { KeyTable } from '../src/widgets/keyTable';
import { TestConsole } from '../src/widgets/testConsole';
import { key, QUOTA, serve, summary, until } from './server';

const trans = nullTranslator.load('jupyter_hub_api');

function platform() {
  const keys = [key()];
  return serve({
    'GET platform/apis': () => [
      200,
      {
        apis: [
          summary(),
          summary({
            name: 'sentiment',
            status: 'idle',
            workers: 3,
            busy: 2,
            endpoint: 'http://127.0.0.1:8765/root/sentiment'
          })
        ],
        quota: QUOTA
      }
    ],
    'GET platform/keys': () => [200, { keys }],
    'POST platform/keys': req => {
      const created = key({
        id: 'k2',
        name: req.body.name,
        prefix: 'hub_cd34'
      });
      keys.push(created);
      return [201, { key: created, secret: 'hub_cd34-the-whole-secret' }];
    },
    'POST platform/apis/iris/invoke': () => [
      200,
      {
        status: 200,
        body: { statusCode: 200, body: { prediction: [0] } },
        duration_ms: 12.4
      }
    ]
  });
}

async function loaded(): Promise<DeploymentsModel> {
  const model = new DeploymentsModel();
  await model.refresh();
  return model;
}

describe('DeploymentsPanel', () => {
  it('renders one card per API, with its status in one phrase', async () => {
    platform();
    const model = await loaded();
    const opened: string[] = [];
    const panel = new DeploymentsPanel(
      model,
      (api, tab) => opened.push(`${api}:${tab}`),
      e => e,
      nullTranslator
    );
    Widget.attach(panel, document.body);
    await until(
      () => panel.node.querySelectorAll('[data-api]').length === 2,
      'the cards'
    );
    const iris = panel.node.querySelector('[data-api="iris"]')!;
    expect(iris.querySelector('[data-testid="api-status"]')!.textContent).toBe(
      'ready · 1 worker, 0 busy'
    );
    expect(
      panel.node.querySelector(
        '[data-api="sentiment"] [data-testid="api-status"]'
      )!.textContent
    ).toBe('idle · 3 workers, 2 busy');
    // The endpoint reads whole and may wrap only after a slash.
    const endpoint = iris.querySelector('[data-testid="api-endpoint"]')!;
    expect(endpoint.textContent).toBe('http://127.0.0.1:8765/root/iris');
    expect(
      [...endpoint.childNodes]
        .filter(n => n.nodeType === Node.TEXT_NODE)
        .map(n => n.textContent)
    ).toEqual(['http://127.0.0.1:8765/', 'root/', 'iris']);
    expect(endpoint.querySelectorAll('wbr').length).toBe(2);
    expect(
      panel.node.querySelector('[data-testid="quota"]')!.textContent
    ).toMatch(/3 of 1000 calls this month/);
    // JupyterLab's own side panel layout and buttons.
    expect(panel.node.querySelector('.jp-SidePanel-toolbar')).not.toBeNull();
    const keys = [...iris.querySelectorAll('button')].find(
      b => b.textContent === 'Keys'
    )!;
    expect(keys.classList).toContain('jp-Button');
    keys.click();
    expect(opened).toEqual(['iris:keys']);
    panel.dispose();
  });

  it('says what is wrong when the list cannot be read', async () => {
    serve({
      'GET platform/apis': () => [
        503,
        { message: 'The platform is not running.', reason: 'unavailable' }
      ],
      'GET platform/keys': () => [200, { keys: [] }]
    });
    const model = await loaded();
    const panel = new DeploymentsPanel(
      model,
      () => undefined,
      e => e
    );
    Widget.attach(panel, document.body);
    await until(() => !!panel.node.querySelector('[role="alert"]'), 'alert');
    expect(panel.node.querySelector('[role="alert"]')!.textContent).toBe(
      'The platform is not running.'
    );
    panel.dispose();
  });
});

describe('OverviewTab', () => {
  it("draws the month's calls per day from the summary", async () => {
    const seen = platform();
    const deployments = await loaded();
    const model = new ApiModel('iris', deployments);
    const tab = new OverviewTab(model, trans, e => e);
    Widget.attach(tab, document.body);
    await until(() => !!tab.node.querySelector('svg'), 'the chart');
    const bars = tab.node.querySelectorAll('svg rect');
    expect(bars.length).toBe(30);
    expect(bars[0].querySelector('title')!.textContent).toBe('1: 2');
    expect(tab.node.querySelector('h2')!.textContent).toBe(
      'Calls per day (2026-11)'
    );
    expect(seen.some(r => r.path.endsWith('/invocations'))).toBe(false);
    tab.dispose();
  });
});

describe('InvocationsTab', () => {
  it('marks asynchronous calls with their state, in flight or done', async () => {
    platform();
    const deployments = await loaded();
    const row = (
      id: string,
      status: number,
      mode: string,
      state: string | null
    ) => ({
      id,
      ts: 1764650000,
      time: '2025-12-02T04:33:20.000Z',
      status,
      counted: status !== 202,
      latency_ms: status === 202 ? null : 3.5,
      version_id: 1,
      key_id: 'k1',
      input: '1',
      input_truncated: false,
      output: status === 202 ? null : '2',
      output_truncated: false,
      error_type: null,
      error_message: null,
      mode,
      state
    });
    serve({
      'GET platform/apis/iris/invocations': () => [
        200,
        {
          api: 'iris',
          invocations: [
            row('a1', 202, 'async', 'running'),
            row('a2', 200, 'async', 'succeeded'),
            row('s1', 200, 'sync', null)
          ]
        }
      ]
    });
    const model = new ApiModel('iris', deployments);
    const tab = new InvocationsTab(model, trans);
    Widget.attach(tab, document.body);
    await tab.load();
    await until(
      () => tab.node.querySelectorAll('tbody tr').length === 3,
      'the rows'
    );
    const badges = [...tab.node.querySelectorAll('.jp-HubApi-async-badge')].map(
      b => b.textContent
    );
    expect(badges).toEqual(['async, running', 'async, succeeded']);
    tab.dispose();
  });
});

describe('KeyTable', () => {
  it('names every column, and shows a new key at once', async () => {
    platform();
    const model = await loaded();
    const table = new KeyTable(model, trans);
    Widget.attach(table, document.body);
    await until(() => !!table.node.querySelector('th'), 'the table');
    expect(
      [...table.node.querySelectorAll('th')].map(th => th.textContent)
    ).toEqual(['Name', 'Key', 'State', 'Last used', 'Actions']);
    const actions = table.node.querySelector('.jp-HubApi-actions')!;
    expect([...actions.children].map(b => b.textContent)).toEqual([
      'Disable',
      'Delete'
    ]);
    const name = table.node.querySelector<HTMLInputElement>(
      '[data-testid="new-key-name"]'
    )!;
    name.value = 'ci';
    table.node
      .querySelector<HTMLButtonElement>('[data-testid="create-key"]')!
      .click();
    await until(
      () => !!table.node.querySelector('[data-testid="key-secret"]'),
      'the secret'
    );
    expect(
      table.node.querySelector('[data-testid="key-secret"]')!.textContent
    ).toBe('hub_cd34-the-whole-secret');
    expect(name.value).toBe('');
    table.dispose();
  });
});

describe('TestConsole', () => {
  async function console_(): Promise<TestConsole> {
    platform();
    const deployments = await loaded();
    const view = new TestConsole(
      new TestConsoleModel('iris', deployments),
      e => e,
      trans
    );
    Widget.attach(view, document.body);
    await until(
      () => !!view.node.querySelector('[data-testid="snippet"]'),
      'the console'
    );
    return view;
  }

  it('clears the answer when the body becomes invalid, and shows no snippet', async () => {
    const view = await console_();
    const body = view.node.querySelector<HTMLTextAreaElement>(
      '[data-testid="json-editor"]'
    )!;
    expect(body.getAttribute('aria-label')).toBe('JSON body of the request');
    view.node
      .querySelector<HTMLButtonElement>('[data-testid="test-send"]')!
      .click();
    await until(
      () => !!view.node.querySelector('[data-testid="test-status"]'),
      'the answer'
    );
    expect(
      view.node.querySelector('[data-testid="test-status"]')!.textContent
    ).toBe('HTTP 200');
    body.value = '[[5.1, 3.5';
    body.dispatchEvent(new Event('input'));
    await until(
      () => !view.node.querySelector('[data-testid="test-status"]'),
      'the answer to go'
    );
    expect(view.node.querySelector('[data-testid="snippet"]')).toBeNull();
    expect(view.node.textContent).not.toContain('null');
    expect(
      view.node.querySelector('[data-testid="body-error"]')!.textContent
    ).toMatch(/not valid JSON/);
    expect(
      view.node.querySelector<HTMLButtonElement>('[data-testid="test-send"]')!
        .disabled
    ).toBe(true);
    view.dispose();
  });

  it('has no body to edit for GET', async () => {
    const view = await console_();
    const method = view.node.querySelector<HTMLSelectElement>(
      '[data-testid="test-method"]'
    )!;
    method.value = 'GET';
    method.dispatchEvent(new Event('change', { bubbles: true }));
    await until(() => view.model.method === 'GET', 'the method');
    await until(
      () =>
        view.node.querySelector<HTMLElement>('.jp-HubApi-field')!.style
          .display === 'none',
      'the body to hide'
    );
    expect(
      view.node.querySelector('[data-testid="snippet"]')!.textContent
    ).toMatch(/^curl -X GET/);
    view.dispose();
  });
});
