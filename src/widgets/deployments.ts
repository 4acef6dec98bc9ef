/**
 * The deployments panel (left sidebar, or the main area) and the detail panel of one API:
 * overview with a chart, versions with rollback, invocation history, logs, the test console
 * and the API key table.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { TabPanel, Widget } from '@lumino/widgets';

import { HubClient } from '../api/client';
import { IApiSummary, IApiVersion, IInvocation } from '../api/types';
import {
  callsPerDay,
  DeploymentsModel,
  formatLatency,
  formatRate
} from '../models/deployments';
import { barChart, usageBar } from './charts';
import { button, copyText, h } from './dom';
import { KeyTable } from './keyTable';
import { TestConsole } from './testConsole';

/** Opens an API's detail panel on a tab. */
export type OpenApi = (api: string, tab?: string) => void;

function statusClass(status: string): string {
  if (status === 'ready' || status === 'idle' || status === 'running') {
    return 'jp-mod-ok';
  }
  if (status === 'failed' || status === 'crashed') {
    return 'jp-mod-error';
  }
  return 'jp-mod-pending';
}

/** The list of every API, with usage against the quota. */
export class DeploymentsPanel extends Widget {
  constructor(
    readonly model: DeploymentsModel,
    private _openApi: OpenApi,
    private _endpointOf: (endpoint: string) => string,
    translator: ITranslator = nullTranslator
  ) {
    super();
    this._trans = translator.load('jupyter_hub_api');
    this.addClass('jp-HubApi-deployments');
    this.node.setAttribute('data-testid', 'hub-api-deployments');
    this.model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.model.changed.disconnect(this._render, this);
    }
    super.dispose();
  }

  protected onAfterShow(): void {
    void this.model.refresh();
  }

  private _render(): void {
    const trans = this._trans;
    const model = this.model;
    const refresh = h('button', {
      class: 'jp-HubApi-iconButton',
      attrs: {
        type: 'button',
        title: trans.__('Refresh'),
        'aria-label': trans.__('Refresh'),
        'data-testid': 'deployments-refresh'
      },
      on: { click: () => void model.refresh() }
    });
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    const header = h(
      'div',
      { class: 'jp-HubApi-sectionHeader' },
      h('h2', { text: trans.__('Deployments') }),
      h('span', { class: 'jp-HubApi-spacer' }),
      refresh
    );
    const parts: Node[] = [header];
    const quota = model.quota;
    if (quota) {
      const limit = quota.monthly_calls;
      const label =
        limit === null
          ? trans.__('%1 calls this month (no limit)', quota.used)
          : trans.__('%1 of %2 calls this month', quota.used, limit);
      parts.push(
        h(
          'div',
          { class: 'jp-HubApi-quota', attrs: { 'data-testid': 'quota' } },
          h('span', { text: label }),
          usageBar(quota.used, limit, label),
          h('span', {
            class: 'jp-HubApi-hint',
            text: trans.__(
              'plan %1 · %2 of %3 APIs',
              quota.plan,
              quota.apis,
              quota.max_apis ?? '∞'
            )
          })
        )
      );
    }
    if (model.error) {
      parts.push(
        h('div', {
          class: 'jp-HubApi-problem',
          attrs: { role: 'alert' },
          text: model.error
        })
      );
    } else if (model.loading) {
      parts.push(
        h('p', { class: 'jp-HubApi-hint', text: trans.__('Loading…') })
      );
    } else if (!model.apis.length) {
      parts.push(
        h('p', {
          class: 'jp-HubApi-hint',
          text: trans.__(
            'No API deployed yet. Start with the Hub API tile of the launcher.'
          )
        })
      );
    }
    for (const api of model.apis) {
      parts.push(this._card(api));
    }
    this.node.replaceChildren(...parts);
  }

  private _card(api: IApiSummary): HTMLElement {
    const trans = this._trans;
    const endpoint = this._endpointOf(api.endpoint);
    const limit = this.model.quota?.monthly_calls ?? null;
    const callsLabel =
      limit === null
        ? trans.__('%1 calls', api.calls_this_month)
        : trans.__('%1 / %2 calls', api.calls_this_month, limit);
    return h(
      'section',
      { class: 'jp-HubApi-apiCard', attrs: { 'data-api': api.name } },
      h(
        'div',
        { class: 'jp-HubApi-row' },
        h('span', {
          class: `jp-HubApi-dot ${statusClass(api.status)}`,
          attrs: { title: api.status }
        }),
        h('button', {
          class: 'jp-HubApi-linkButton jp-HubApi-apiName',
          text: api.name,
          attrs: { type: 'button', title: trans.__('Details of %1', api.name) },
          on: { click: () => this._openApi(api.name) }
        }),
        h('span', {
          class: 'jp-HubApi-badge',
          text: api.live_version
            ? `v${api.live_version.version} (#${api.live_version.version_number})`
            : trans.__('no live version')
        }),
        h('span', {
          class: 'jp-HubApi-status',
          text: api.status,
          attrs: { 'data-testid': 'api-status' }
        })
      ),
      h(
        'div',
        { class: 'jp-HubApi-row' },
        h('code', {
          class: 'jp-HubApi-endpoint',
          text: endpoint,
          attrs: { 'data-testid': 'api-endpoint' }
        }),
        button(
          trans.__('Copy'),
          () =>
            void copyText(endpoint).then(() =>
              Notification.info(trans.__('Endpoint copied.'), {
                autoClose: 2000
              })
            ),
          { title: trans.__('Copy the endpoint') }
        )
      ),
      h(
        'div',
        { class: 'jp-HubApi-row jp-HubApi-metrics' },
        usageBar(api.calls_this_month, limit, callsLabel),
        h('span', { text: callsLabel }),
        h('span', { text: trans.__('errors %1', formatRate(api.error_rate)) }),
        h('span', {
          text: trans.__('p50 %1', formatLatency(api.latency?.p50_ms))
        })
      ),
      api.load_error
        ? h('div', { class: 'jp-HubApi-problem', text: api.load_error })
        : null,
      h(
        'div',
        { class: 'jp-HubApi-row' },
        button(trans.__('Test'), () => this._openApi(api.name, 'test'), {
          accept: true,
          testid: 'api-test'
        }),
        button(trans.__('Keys'), () => this._openApi(api.name, 'keys')),
        button(trans.__('Versions'), () => this._openApi(api.name, 'versions'))
      )
    );
  }

  private _trans: TranslationBundle;
}

/** A tab of the detail panel that loads its data when shown. */
class LoadingTab extends Widget {
  constructor(
    label: string,
    private _load: (node: HTMLElement) => Promise<void>
  ) {
    super();
    this.title.label = label;
    this.addClass('jp-HubApi-tab');
  }

  async reload(): Promise<void> {
    try {
      await this._load(this.node);
    } catch (error) {
      this.node.replaceChildren(
        h('div', {
          class: 'jp-HubApi-problem',
          attrs: { role: 'alert' },
          text: (error as Error).message
        })
      );
    }
  }

  protected onAfterShow(): void {
    void this.reload();
  }
}

/** The detail panel of one API. */
export class ApiPanel extends TabPanel {
  constructor(
    readonly api: string,
    private _model: DeploymentsModel,
    private _endpointOf: (endpoint: string) => string,
    options: {
      translator?: ITranslator;
      editorServices?: IEditorServices | null;
    } = {}
  ) {
    super();
    const trans = (this._trans = (options.translator ?? nullTranslator).load(
      'jupyter_hub_api'
    ));
    this.addClass('jp-HubApi-apiPanel');
    this.node.dataset.api = api;
    this.node.setAttribute('data-testid', 'hub-api-api-panel');
    this._overview = new LoadingTab(trans.__('Overview'), node =>
      this._renderOverview(node)
    );
    this._versions = new LoadingTab(trans.__('Versions'), node =>
      this._renderVersions(node)
    );
    this._invocations = new LoadingTab(trans.__('Invocations'), node =>
      this._renderInvocations(node)
    );
    this._logs = new LoadingTab(trans.__('Logs'), node =>
      this._renderLogs(node)
    );
    const summary = this._summary();
    this._console = new TestConsole(
      api,
      this._endpointOf(summary?.endpoint ?? ''),
      trans,
      {
        editorServices: options.editorServices,
        keys: () => this._model.keys,
        reveal: id => HubClient.revealKey(id),
        onInvoked: () => void this._model.refresh()
      }
    );
    this._console.title.label = trans.__('Test');
    this._keys = new KeyTable(_model, trans);
    this._keys.title.label = trans.__('Keys');
    for (const w of [
      this._overview,
      this._versions,
      this._invocations,
      this._logs,
      this._console,
      this._keys
    ]) {
      this.addWidget(w);
    }
    this._model.changed.connect(this._onModelChanged, this);
  }

  /** Show a tab by its name: overview, versions, invocations, logs, test, keys. */
  showTab(tab: string): void {
    const index = [
      'overview',
      'versions',
      'invocations',
      'logs',
      'test',
      'keys'
    ].indexOf(tab);
    if (index >= 0) {
      this.currentIndex = index;
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._model.changed.disconnect(this._onModelChanged, this);
    }
    super.dispose();
  }

  private _summary(): IApiSummary | undefined {
    return this._model.apis.find(a => a.name === this.api);
  }

  private _onModelChanged(): void {
    const summary = this._summary();
    if (summary) {
      this._console.endpoint = this._endpointOf(summary.endpoint);
    }
    this._console.refreshKeys();
    if (this.currentWidget === this._overview) {
      void this._overview.reload();
    }
  }

  private async _renderOverview(node: HTMLElement): Promise<void> {
    const trans = this._trans;
    const api = this._summary();
    if (!api) {
      node.replaceChildren(
        h('p', {
          class: 'jp-HubApi-hint',
          text: this._model.loading
            ? trans.__('Loading…')
            : trans.__('%1 is not deployed.', this.api)
        })
      );
      return;
    }
    const invocations = await HubClient.invocations(this.api, 1000);
    const days = callsPerDay(invocations, api.month);
    const rows: [string, string][] = [
      [
        trans.__('Status'),
        api.status +
          (api.workers !== undefined
            ? trans.__(' (%1 workers, %2 busy)', api.workers, api.busy ?? 0)
            : '')
      ],
      [
        trans.__('Live version'),
        api.live_version
          ? `${api.live_version.version} (#${api.live_version.version_number}, build ${api.live_version.build_id.slice(0, 12)})`
          : trans.__('none')
      ],
      [trans.__('Endpoint'), this._endpointOf(api.endpoint)],
      [trans.__('Calls this month'), String(api.calls_this_month)],
      [trans.__('Error rate'), formatRate(api.error_rate)],
      [
        trans.__('Latency p50 / p95 / p99'),
        [api.latency.p50_ms, api.latency.p95_ms, api.latency.p99_ms]
          .map(formatLatency)
          .join(' / ')
      ]
    ];
    node.replaceChildren(
      h(
        'table',
        { class: 'jp-HubApi-summary' },
        ...rows.map(([k, v]) =>
          h('tr', {}, h('th', { text: k }), h('td', { text: v }))
        )
      ),
      h('h3', { text: trans.__('Calls per day (%1)', api.month) }),
      barChart(days, trans.__('Calls per day of %1', api.month))
    );
  }

  private async _renderVersions(node: HTMLElement): Promise<void> {
    const trans = this._trans;
    const versions = await HubClient.versions(this.api);
    const row = (v: IApiVersion) =>
      h(
        'tr',
        { class: v.live ? 'jp-mod-live' : '' },
        h('td', { text: `#${v.version_number}` }),
        h('td', { text: v.version }),
        h('td', {}, h('code', { text: v.build_id.slice(0, 12) })),
        h('td', { text: v.live ? trans.__('live') : v.status }),
        h('td', {
          text: v.deployed_at ? new Date(v.deployed_at).toLocaleString() : ''
        }),
        h(
          'td',
          {},
          v.live || v.status === 'failed'
            ? null
            : button(
                trans.__('Roll back to this'),
                () => void this._rollback(v)
              )
        )
      );
    node.replaceChildren(
      h(
        'table',
        { class: 'jp-HubApi-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...[
              '#',
              trans.__('Version'),
              trans.__('Build'),
              trans.__('State'),
              trans.__('Deployed'),
              ''
            ].map(t => h('th', { text: t }))
          )
        ),
        h('tbody', {}, ...versions.map(row))
      )
    );
  }

  private async _rollback(v: IApiVersion): Promise<void> {
    const trans = this._trans;
    const answer = await showDialog({
      title: trans.__(
        'Roll %1 back to version #%2?',
        this.api,
        v.version_number
      ),
      body: trans.__(
        'New requests go to version %1 once it is loaded; requests in flight finish on the current one.',
        v.version
      ),
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: trans.__('Roll back') })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await HubClient.rollback(this.api, v.version_number);
      Notification.success(
        trans.__('%1 is back on version #%2.', this.api, v.version_number),
        { autoClose: 4000 }
      );
    } catch (error) {
      Notification.error((error as Error).message);
    }
    await Promise.all([this._versions.reload(), this._model.refresh()]);
  }

  private async _renderInvocations(node: HTMLElement): Promise<void> {
    const trans = this._trans;
    const items = await HubClient.invocations(this.api, 200);
    const row = (inv: IInvocation) =>
      h(
        'tr',
        {},
        h('td', { text: new Date(inv.ts * 1000).toLocaleString() }),
        h('td', {
          text: String(inv.status),
          class: inv.status < 400 ? 'jp-mod-ok' : 'jp-mod-error'
        }),
        h('td', { text: formatLatency(inv.latency_ms) }),
        h('td', {}, h('code', { text: inv.error_message ?? inv.output ?? '' }))
      );
    node.replaceChildren(
      items.length
        ? h(
            'table',
            { class: 'jp-HubApi-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...[
                  trans.__('Time'),
                  trans.__('Status'),
                  trans.__('Latency'),
                  trans.__('Output or error')
                ].map(t => h('th', { text: t }))
              )
            ),
            h('tbody', {}, ...items.map(row))
          )
        : h('p', { class: 'jp-HubApi-hint', text: trans.__('No call yet.') })
    );
  }

  private async _renderLogs(node: HTMLElement): Promise<void> {
    const trans = this._trans;
    const lines = await HubClient.apiLogs(this.api, 500);
    node.replaceChildren(
      h(
        'div',
        { class: 'jp-HubApi-row' },
        button(trans.__('Refresh'), () => void this._logs.reload())
      ),
      lines.length
        ? h('pre', {
            class: 'jp-HubApi-code jp-HubApi-apiLogs',
            text: lines.map(l => l.line).join('\n')
          })
        : h('p', {
            class: 'jp-HubApi-hint',
            text: trans.__(
              'Nothing printed yet: what the handler prints appears here.'
            )
          })
    );
  }

  private _trans: TranslationBundle;
  private _overview: LoadingTab;
  private _versions: LoadingTab;
  private _invocations: LoadingTab;
  private _logs: LoadingTab;
  private _console: TestConsole;
  private _keys: KeyTable;
}
