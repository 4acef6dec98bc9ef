/**
 * Deleting an API from the deployments panel (issue 11.4): the model's call and the
 * confirmation dialog, over the server extension's real answer shapes (test/server.ts: the
 * platform's `ApiDeleted` {api, deleted: true}; its 404 {message, reason} relayed as is).
 */
import { Dialog, Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { DeploymentsModel } from '../src/models/deployments';
import {
  ApiPanel,
  DeploymentsPanel,
  OverviewTab
} from '../src/widgets/deployments';
import { ApiModel } from '../src/models/deployments';
import { key, QUOTA, serve, summary, until } from './server';

const trans = nullTranslator.load('jupyter_hub_api');

/** A platform with two APIs; DELETE removes one (or answers the platform's 404). */
function platform() {
  const state = {
    apis: [
      summary(),
      summary({
        name: 'sentiment',
        endpoint: 'http://127.0.0.1:8765/root/sentiment'
      })
    ]
  };
  const remove = (name: string): [number, unknown] => {
    if (!state.apis.some(a => a.name === name)) {
      return [
        404,
        {
          message: `There is no API '${name}'; hub list shows your APIs.`,
          reason: 'no_api'
        }
      ];
    }
    state.apis = state.apis.filter(a => a.name !== name);
    return [200, { api: name, deleted: true }];
  };
  const seen = serve({
    'GET platform/apis': () => [
      200,
      { apis: state.apis, quota: { ...QUOTA, apis: state.apis.length } }
    ],
    'GET platform/keys': () => [200, { keys: [key()] }],
    'DELETE platform/apis/iris': () => remove('iris'),
    'DELETE platform/apis/sentiment': () => remove('sentiment')
  });
  return { seen, state };
}

async function loaded(): Promise<DeploymentsModel> {
  const model = new DeploymentsModel();
  await model.refresh();
  return model;
}

/** The dialog on screen, once it is there. */
async function dialog(): Promise<HTMLElement> {
  await until(
    () =>
      !!document.querySelector('.jp-Dialog-header')?.textContent &&
      !!document.querySelector('.jp-Dialog-footer button'),
    'the dialog'
  );
  return document.querySelector('.jp-Dialog') as HTMLElement;
}

function buttonOf(node: Element, label: string): HTMLButtonElement {
  const button = [...node.querySelectorAll('button')].find(
    b => b.textContent?.trim() === label
  );
  if (!button) {
    throw new Error(`No button "${label}".`);
  }
  return button as HTMLButtonElement;
}

afterEach(() => {
  Dialog.flush();
  Notification.dismiss();
});

describe('DeploymentsModel.deleteApi', () => {
  it('deletes on the platform, drops the card, tells the panels, refetches', async () => {
    const { seen } = platform();
    const model = await loaded();
    const deleted: string[] = [];
    model.apiDeleted.connect((_, name) => deleted.push(name));
    await model.deleteApi('iris');
    expect(seen.filter(r => r.method === 'DELETE').map(r => r.path)).toEqual([
      'platform/apis/iris'
    ]);
    expect(deleted).toEqual(['iris']);
    expect(model.apis.map(a => a.name)).toEqual(['sentiment']);
    expect(model.quota!.apis).toBe(1); // fetched again after the delete
  });

  it("keeps the list and throws the platform's sentence when it fails", async () => {
    const { state } = platform();
    const model = await loaded();
    state.apis = state.apis.filter(a => a.name !== 'iris'); // deleted elsewhere (CLI)
    const deleted: string[] = [];
    model.apiDeleted.connect((_, name) => deleted.push(name));
    await expect(model.deleteApi('iris')).rejects.toThrow(
      "There is no API 'iris'; hub list shows your APIs."
    );
    expect(deleted).toEqual([]);
    expect(model.apis.map(a => a.name)).toEqual(['iris', 'sentiment']);
  });
});

describe('Deleting from the panel', () => {
  it('asks first (Cancel has the focus), then deletes, closes the API panel and says so', async () => {
    const { seen } = platform();
    const model = await loaded();
    const panel = new DeploymentsPanel(
      model,
      () => undefined,
      e => e,
      nullTranslator
    );
    Widget.attach(panel, document.body);
    const detail = new ApiPanel('iris', model, e => e);
    Widget.attach(detail, document.body);
    await until(() => !!panel.node.querySelector('[data-api="iris"]'), 'card');
    const card = () => panel.node.querySelector('[data-api="iris"]');

    // Cancel: nothing is deleted.
    (
      card()!.querySelector('[data-testid="api-delete"]') as HTMLElement
    ).click();
    let box = await dialog();
    expect(box.querySelector('.jp-Dialog-header')!.textContent).toBe(
      'Delete the API "iris"?'
    );
    const body = box.querySelector('.jp-Dialog-body')!.textContent!;
    for (const word of ['versions', 'history', 'logs', 'keys', '404']) {
      expect(body).toContain(word);
    }
    await until(
      () => document.activeElement === buttonOf(box, 'Cancel'),
      'the focus on Cancel'
    );
    expect(buttonOf(box, 'Delete').classList).toContain('jp-mod-warn');
    buttonOf(box, 'Cancel').click();
    await until(() => !document.querySelector('.jp-Dialog'), 'dialog closed');
    expect(seen.some(r => r.method === 'DELETE')).toBe(false);
    expect(card()).not.toBeNull();

    // Delete.
    (
      card()!.querySelector('[data-testid="api-delete"]') as HTMLElement
    ).click();
    box = await dialog();
    buttonOf(box, 'Delete').click();
    await until(() => !card(), 'the card gone');
    await until(() => detail.isDisposed, 'the API panel closed');
    expect(seen.filter(r => r.method === 'DELETE').map(r => r.path)).toEqual([
      'platform/apis/iris'
    ]);
    expect(panel.node.querySelector('[data-api="sentiment"]')).not.toBeNull();
    await until(
      () =>
        Notification.manager.notifications.some(
          n => n.message === 'The API iris is deleted.' && n.type === 'success'
        ),
      'the notification'
    );
    panel.dispose();
  });

  it("says what went wrong from the Overview tab and keeps the API's panel", async () => {
    const { state } = platform();
    const deployments = await loaded();
    const tab = new OverviewTab(
      new ApiModel('iris', deployments),
      trans,
      e => e
    );
    Widget.attach(tab, document.body);
    await until(
      () => !!tab.node.querySelector('[data-testid="overview-delete"]'),
      'the button'
    );
    state.apis = state.apis.filter(a => a.name !== 'iris');
    (
      tab.node.querySelector('[data-testid="overview-delete"]') as HTMLElement
    ).click();
    buttonOf(await dialog(), 'Delete').click();
    await until(
      () => Notification.manager.notifications.some(n => n.type === 'error'),
      'the error'
    );
    const error = Notification.manager.notifications.find(
      n => n.type === 'error'
    )!;
    expect(error.message).toBe(
      "iris was not deleted: There is no API 'iris'; hub list shows your APIs."
    );
    expect(tab.isDisposed).toBe(false);
    tab.dispose();
  });
});
