/**
 * The deployments views: the sidebar list of APIs (laid out like JupyterLab's Running panel:
 * a `SidePanel` with a toolbar over the content) and the detail panel of one API (overview
 * with a chart, versions with rollback, invocation history, logs, the test console and the
 * key table). Each view renders a model of `models/deployments.ts` (React, through
 * `VDomRenderer`: a model's `stateChanged` asks for one batched render) and calls its methods.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import {
  Button,
  copyIcon,
  deleteIcon,
  refreshIcon,
  SidePanel,
  Table,
  VDomRenderer
} from '@jupyterlab/ui-components';
import { Panel, TabPanel, Widget } from '@lumino/widgets';
import * as React from 'react';

import { ActionToolbarButton } from './actionButton'; // ui2 (a11y)
import {
  IApiSummary,
  IApiVersion,
  IInvocation,
  IRuntimeSettings
} from '../api/types';
import {
  ApiModel,
  DeploymentsModel,
  ILoadable,
  formatLatency,
  formatRate
} from '../models/deployments';
import { TestConsoleModel } from '../models/testConsole';
import { formatClock, formatDateTime } from '../models/logModel';
import { rememberShowTimes, shownTimes } from './logPanel';
import { BarChart, UsageBar } from './charts';
import { KeyTable } from './keyTable';
import { copyWithNotice, Endpoint, Hint, Problem } from './parts';
import { TestConsole } from './testConsole';
import { AdminModel, PlanModel } from '../models/admin'; // plans
import { AdminView, PlanLine } from './admin'; // plans

/** Opens an API's detail panel on a tab. */
export type OpenApi = (api: string, tab?: string) => void;

/** The tabs of the detail panel, in order. */
export const API_TABS = [
  'overview',
  'versions',
  'settings',
  'invocations',
  'logs',
  'test',
  'keys'
] as const;

function statusClass(status: string): string {
  if (status === 'ready' || status === 'idle' || status === 'running') {
    return 'jp-mod-ok';
  }
  if (status === 'failed' || status === 'crashed') {
    return 'jp-mod-error';
  }
  return 'jp-mod-pending';
}

/** "ready · 1 worker, 0 busy": the engine's state with its workers, in one phrase. */
export function statusText(api: IApiSummary, trans: TranslationBundle): string {
  if (api.workers === undefined || api.status === 'no_version') {
    return api.status;
  }
  return trans._n(
    '%2 · %1 worker, %3 busy',
    '%2 · %1 workers, %3 busy',
    api.workers,
    api.status,
    api.busy ?? 0
  );
}

/**
 * Ask whether to delete the API `name` (the safe button has the focus) and delete it: a
 * notification says it is deleted, or what went wrong. Answers whether it was deleted.
 */
export async function confirmDeleteApi(
  model: DeploymentsModel,
  name: string,
  trans: TranslationBundle
): Promise<boolean> {
  const answer = await showDialog({
    title: trans.__('Delete the API "%1"?', name),
    body: trans.__(
      "Its versions, its call history and its logs are deleted, your API keys no longer reach it, and callers get 404 from then on. The month's usage counts stay. This cannot be undone."
    ),
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({ label: trans.__('Delete') })
    ],
    // The safe choice has the focus (issue 11: not the destructive button).
    defaultButton: 0
  });
  if (!answer.button.accept) {
    return false;
  }
  try {
    await model.deleteApi(name);
  } catch (error) {
    Notification.error(
      trans.__('%1 was not deleted: %2', name, (error as Error).message)
    );
    return false;
  }
  Notification.success(trans.__('The API %1 is deleted.', name), {
    autoClose: 5000
  });
  return true;
}

/** The content of the deployments panel: the quota and one card per API. */
export class DeploymentsView extends VDomRenderer<DeploymentsModel> {
  constructor(
    model: DeploymentsModel,
    private _openApi: OpenApi,
    private _endpointOf: (endpoint: string) => string,
    private _trans: TranslationBundle
  ) {
    super(model);
    this.addClass('jp-HubApi-deploymentsView');
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const model = this.model;
    const quota = model.quota;
    let body: React.ReactNode;
    if (model.error) {
      body = <Problem message={model.error} />;
    } else if (model.loading) {
      body = <Hint text={trans.__('Loading…')} />;
    } else if (!model.apis.length) {
      body = (
        <Hint
          text={trans.__(
            'No API deployed yet. Start with the Hub API tile of the launcher.'
          )}
        />
      );
    } else {
      body = (
        <ul className="jp-HubApi-apiList" aria-label={trans.__('APIs')}>
          {model.apis.map(api => this._card(api))}
        </ul>
      );
    }
    return (
      <>
        {quota ? (
          <section className="jp-HubApi-quota" data-testid="quota">
            {this._quota()}
          </section>
        ) : null}
        {body}
      </>
    );
  }

  private _quota(): React.ReactNode {
    const trans = this._trans;
    const quota = this.model.quota!;
    const limit = quota.monthly_calls;
    const label =
      limit === null
        ? trans.__('%1 calls this month (no limit)', quota.used)
        : trans.__('%1 of %2 calls this month', quota.used, limit);
    return (
      <>
        <span>{label}</span>
        <UsageBar used={quota.used} limit={limit} label={label} />
        <span className="jp-HubApi-hint">
          {trans.__(
            'plan %1 · %2 of %3 APIs',
            quota.plan,
            quota.apis,
            quota.max_apis ?? '∞'
          )}
        </span>
      </>
    );
  }

  private _card(api: IApiSummary): JSX.Element {
    const trans = this._trans;
    const endpoint = this._endpointOf(api.endpoint);
    const limit = this.model.quota?.monthly_calls ?? null;
    const calls =
      limit === null
        ? trans.__('%1 calls', api.calls_this_month)
        : trans.__('%1 / %2 calls', api.calls_this_month, limit);
    const open = (tab?: string) => () => this._openApi(api.name, tab);
    return (
      <li className="jp-HubApi-apiCard" data-api={api.name} key={api.name}>
        <div className="jp-HubApi-cardTitle">
          <span
            className={`jp-HubApi-dot ${
              api.quota_spent ? 'jp-mod-error' : statusClass(api.status) // plans
            }`}
            aria-hidden="true"
          />
          <button
            type="button"
            className="jp-HubApi-linkButton jp-HubApi-apiName"
            title={trans.__('Details of %1', api.name)}
            onClick={open()}
          >
            {api.name}
          </button>
          <span className="jp-HubApi-badge">
            {api.live_version
              ? `v${api.live_version.version} (#${api.live_version.version_number})`
              : trans.__('no live version')}
          </span>
        </div>
        <div className="jp-HubApi-apiStatus" data-testid="api-status">
          {api.quota_spent // plans: calls answer 429 although the engine is ready
            ? trans.__('quota spent · calls answer 429 (see the plan above)')
            : statusText(api, trans)}
        </div>
        <div className="jp-HubApi-cardEndpoint">
          <Endpoint url={endpoint} testid="api-endpoint" />
          <Button
            minimal
            small
            className="jp-HubApi-iconButton"
            title={trans.__('Copy the endpoint')}
            aria-label={trans.__('Copy the endpoint')}
            onClick={() =>
              copyWithNotice(endpoint, trans.__('Endpoint copied.'))
            }
          >
            <copyIcon.react tag="span" />
          </Button>
        </div>
        <div className="jp-HubApi-metrics">
          <UsageBar used={api.calls_this_month} limit={limit} label={calls} />
          <span>{calls}</span>
          <span>{trans.__('errors %1', formatRate(api.error_rate))}</span>
          <span>{trans.__('p50 %1', formatLatency(api.latency?.p50_ms))}</span>
        </div>
        {api.load_error ? <Problem message={api.load_error} /> : null}
        <div className="jp-HubApi-cardActions">
          <Button small minimal onClick={open('test')} data-testid="api-test">
            {trans.__('Test')}
          </Button>
          <Button small minimal onClick={open('keys')}>
            {trans.__('Keys')}
          </Button>
          <Button small minimal onClick={open('versions')}>
            {trans.__('Versions')}
          </Button>
          <Button
            small
            minimal
            className="jp-HubApi-deleteApi"
            data-testid="api-delete"
            title={trans.__('Delete %1 for good', api.name)}
            onClick={() => void confirmDeleteApi(this.model, api.name, trans)}
          >
            {trans.__('Delete…')}
          </Button>
        </div>
      </li>
    );
  }
}

/**
 * The list of every API, with usage against the quota (left sidebar, or the main area): a
 * `SidePanel` like JupyterLab's Running panel (a header, a toolbar, the content).
 */
export class DeploymentsPanel extends SidePanel {
  constructor(
    readonly model: DeploymentsModel,
    openApi: OpenApi,
    endpointOf: (endpoint: string) => string,
    translator: ITranslator = nullTranslator
  ) {
    super({ content: new Panel(), translator });
    const trans = translator.load('jupyter_hub_api');
    this.addClass('jp-HubApi-deployments');
    this.node.setAttribute('data-testid', 'hub-api-deployments');
    const title = document.createElement('h2');
    title.className = 'jp-HubApi-sidePanelTitle';
    title.textContent = trans.__('Hub API deployments');
    this.header.addWidget(new Widget({ node: title }));
    // ui2 (a11y): an action, not a toggle (no aria-pressed)
    const refresh = new ActionToolbarButton({
      icon: refreshIcon,
      onClick: () => void model.refresh(),
      tooltip: trans.__('Refresh the list')
    });
    refresh.node.dataset.testid = 'deployments-refresh';
    this.toolbar.addItem('refresh', refresh);
    this.view = new DeploymentsView(model, openApi, endpointOf, trans);
    // -- plans: the plan line (Edit limits) and, for the platform's admins, the admin view --
    this.planLine = new PlanLine(this.plan, trans);
    this.adminView = new AdminView(this.admin, trans);
    this.adminView.hide();
    this.plan.stateChanged.connect(() => {
      const admin = !!this.plan.plan?.can_edit;
      if (admin && this.adminView.isHidden) {
        this.adminView.show();
        void this.admin.refresh();
      } else if (!admin && !this.adminView.isHidden) {
        this.adminView.hide();
      }
    });
    this.addWidget(this.planLine);
    // -- end plans --
    this.addWidget(this.view);
    this.addWidget(this.adminView); // plans
  }

  /** The list itself. */
  readonly view: DeploymentsView;

  // -- plans --
  /** The user's plan (models/admin.ts) and the admin view's data. */
  readonly plan = new PlanModel();
  readonly admin = new AdminModel();
  readonly planLine: PlanLine;
  readonly adminView: AdminView;
  // -- end plans --

  protected onAfterShow(): void {
    void this.model.refresh();
    void this.plan.refresh(); // plans
    if (!this.adminView.isHidden) {
      void this.admin.refresh(); // plans
    }
  }
}

/** A tab of the detail panel over the API's model; loads its part (if any) when shown. */
abstract class ApiTab extends VDomRenderer<ApiModel> {
  constructor(
    model: ApiModel,
    label: string,
    protected trans: TranslationBundle,
    private _load: (model: ApiModel) => Promise<void> = () => Promise.resolve()
  ) {
    super(model);
    this.title.label = label;
    this.addClass('jp-HubApi-tab');
  }

  /** Fetch what the tab shows. */
  load(): Promise<void> {
    return this._load(this.model);
  }

  protected onAfterShow(): void {
    void this.load();
  }
}

/** A table of something the API's model loads: its problem, the rows, or why there are none. */
function LoadedTable<T>(props: {
  part: ILoadable<T[]>;
  columns: Table.IColumn<T>[];
  rowKey: (row: T) => string;
  empty: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { value, error, loading } = props.part;
  return (
    <>
      {error ? <Problem message={error} /> : null}
      {value?.length ? (
        <Table<T>
          columns={props.columns}
          rows={value.map(row => ({ data: row, key: props.rowKey(row) }))}
          blankIndicator={() => props.empty}
        />
      ) : value ? (
        <Hint text={props.empty} />
      ) : loading ? (
        <Hint text={props.trans.__('Loading…')} />
      ) : null}
    </>
  );
}

/** The fields of the settings form: name, label, unit, bounds. */
const RUNTIME_FIELDS: {
  name: keyof IRuntimeSettings;
  label: string;
  hint: string;
  min: number;
  max?: number;
  step: number;
}[] = [
  {
    name: 'min_workers',
    label: 'Minimum workers',
    hint: 'kept loaded when idle (0 = scale to zero)',
    min: 0,
    max: 64,
    step: 1
  },
  {
    name: 'max_workers',
    label: 'Maximum workers',
    hint: 'at most this many run at once',
    min: 1,
    max: 64,
    step: 1
  },
  {
    name: 'idle_seconds',
    label: 'Idle timeout (s)',
    hint: 'a worker idle this long stops',
    min: 0,
    step: 1
  },
  {
    name: 'timeout_seconds',
    label: 'Call timeout (s)',
    hint: 'a longer call answers 504',
    min: 0.1,
    max: 3600,
    step: 0.1
  },
  {
    name: 'async_timeout_seconds',
    label: 'Async call timeout (s)',
    hint: 'a longer asynchronous call fails with 504',
    min: 0.1,
    max: 86400,
    step: 0.1
  },
  {
    name: 'memory_mb',
    label: 'Memory limit (MB)',
    hint: 'per worker (0 = no limit)',
    min: 0,
    max: 1048576,
    step: 1
  }
];

let settingsCount = 0;

/**
 * Scaling and limits of the API, editable: Apply deploys the live version again with the new
 * settings (a new version, nothing built; Versions can roll it back).
 */
export class SettingsTab extends ApiTab {
  constructor(model: ApiModel, trans: TranslationBundle) {
    super(model, trans.__('Settings'), trans, m => m.loadVersions());
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const runtime = this.model.runtime;
    const live = this.model.versions.value?.find(v => v.live);
    if (!runtime || !live) {
      return (
        <Hint
          text={
            this.model.versions.loading || !this.model.versions.value
              ? trans.__('Loading…')
              : trans.__('No live version: deploy the API first.')
          }
        />
      );
    }
    return (
      <form
        // A new live version gives fresh fields.
        key={live.build_id}
        className="jp-HubApi-settings"
        data-testid="runtime-settings"
        aria-labelledby={`${this._uid}-settings`}
        onSubmit={event => {
          event.preventDefault();
          void this._apply(event.currentTarget);
        }}
      >
        <h2 id={`${this._uid}-settings`}>{trans.__('Scaling and limits')}</h2>
        {RUNTIME_FIELDS.map(f => (
          <div className="jp-HubApi-field" key={f.name}>
            <label htmlFor={`${this._uid}-${f.name}`}>
              {trans.__(f.label)}
            </label>
            <input
              id={`${this._uid}-${f.name}`}
              className="jp-mod-styled"
              type="number"
              name={f.name}
              data-testid={`runtime-${f.name}`}
              required
              min={f.min}
              max={f.max}
              step={f.step}
              defaultValue={String(runtime[f.name])}
              aria-describedby={`${this._uid}-${f.name}-hint`}
            />
            <span className="jp-HubApi-hint" id={`${this._uid}-${f.name}-hint`}>
              {trans.__(f.hint)}
            </span>
          </div>
        ))}
        <div
          className="jp-HubApi-fieldError"
          role="alert"
          data-testid="runtime-error"
        >
          {this._error}
        </div>
        <div className="jp-HubApi-row">
          <Button
            type="submit"
            className="jp-mod-styled jp-mod-accept"
            data-testid="runtime-apply"
            disabled={this._busy}
          >
            {this._busy ? trans.__('Applying…') : trans.__('Apply')}
          </Button>
          <Hint
            text={trans.__(
              'Apply starts a new version with these settings and the same files; calls in flight finish on the current one.'
            )}
          />
        </div>
      </form>
    );
  }

  private async _apply(form: HTMLFormElement): Promise<void> {
    const trans = this.trans;
    const data = new FormData(form);
    const settings = {} as IRuntimeSettings;
    for (const f of RUNTIME_FIELDS) {
      settings[f.name] = Number(data.get(f.name));
    }
    if (settings.min_workers > settings.max_workers) {
      this._error = trans.__(
        'The minimum (%1) is more than the maximum (%2) of workers; lower the minimum or raise the maximum.',
        settings.min_workers,
        settings.max_workers
      );
      this.update();
      return;
    }
    this._error = '';
    this._busy = true;
    this.update();
    try {
      const number = await this.model.updateRuntime(settings);
      Notification.success(
        number === null
          ? trans.__('Nothing to change: these are the live settings.')
          : trans.__(
              '%1 runs with the new settings as version #%2.',
              this.model.name,
              number
            ),
        { autoClose: 4000 }
      );
    } catch (error) {
      this._error = (error as Error).message;
    } finally {
      this._busy = false;
      this.update();
    }
  }

  private _error = '';
  private _busy = false;
  private _uid = `hub-api-settings-${++settingsCount}`;
}

/** Status, live version, endpoint, usage, latency and the calls per day. */
export class OverviewTab extends ApiTab {
  constructor(
    model: ApiModel,
    trans: TranslationBundle,
    private _endpointOf: (endpoint: string) => string
  ) {
    super(model, trans.__('Overview'), trans);
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const api = this.model.summary;
    if (!api) {
      return (
        <Hint
          text={
            this.model.deployments.loading
              ? trans.__('Loading…')
              : trans.__('%1 is not deployed.', this.model.name)
          }
        />
      );
    }
    const live = api.live_version;
    const rows: [string, React.ReactNode][] = [
      [trans.__('Status'), statusText(api, trans)],
      [
        trans.__('Live version'),
        live
          ? trans.__(
              '%1 (#%2, build %3)',
              live.version,
              live.version_number,
              live.build_id.slice(0, 12)
            )
          : trans.__('none')
      ],
      [trans.__('Endpoint'), <Endpoint url={this._endpointOf(api.endpoint)} />],
      [trans.__('Calls this month'), String(api.calls_this_month)],
      [trans.__('Error rate'), formatRate(api.error_rate)],
      [
        trans.__('Latency p50 / p95 / p99'),
        [api.latency.p50_ms, api.latency.p95_ms, api.latency.p99_ms]
          .map(formatLatency)
          .join(' / ')
      ]
    ];
    return (
      <>
        <table className="jp-HubApi-summary">
          <tbody>
            {rows.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>{trans.__('Calls per day (%1)', api.month)}</h2>
        <BarChart
          values={this.model.callsPerDay}
          label={trans.__('Calls per day of %1', api.month)}
        />
        <div className="jp-HubApi-row jp-HubApi-dangerZone">
          <Button
            small
            className="jp-HubApi-deleteApi"
            data-testid="overview-delete"
            onClick={() =>
              void confirmDeleteApi(
                this.model.deployments,
                this.model.name,
                trans
              )
            }
          >
            <deleteIcon.react tag="span" />
            {trans.__('Delete API…')}
          </Button>
        </div>
      </>
    );
  }
}

/**
 * Says when the live version is not the project's last build (after a rollback): the files
 * in the project folder, open in the editor, are then not what the API runs.
 */
export function DriftNote(props: {
  model: ApiModel;
  trans: TranslationBundle;
}): JSX.Element | null {
  const drift = props.model.drift;
  if (!drift) {
    return null;
  }
  const { trans } = props;
  const built = drift.built
    ? trans.__('version #%1', drift.built.version_number)
    : trans.__('build %1, not deployed', drift.project.last_build!.slice(0, 8));
  return (
    <div className="jp-HubApi-drift" role="status" data-testid="version-drift">
      {trans.__(
        "The live version is #%1 (build %2), not the last build of the project's files in %3 (%4): the code in the editor is not what the API runs. Deploy the project to make its files live.",
        drift.live.version_number,
        drift.live.build_id.slice(0, 8),
        drift.project.path,
        built
      )}
    </div>
  );
}

/** The versions, with rollback. */
export class VersionsTab extends ApiTab {
  constructor(model: ApiModel, trans: TranslationBundle) {
    super(model, trans.__('Versions'), trans, m => m.loadVersions());
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const columns: Table.IColumn<IApiVersion>[] = [
      {
        id: 'number',
        label: '#',
        renderCell: v => `#${v.version_number}`,
        sort: (a, b) => a.version_number - b.version_number
      },
      {
        id: 'version',
        label: trans.__('Version'),
        renderCell: v => v.version,
        sort: (a, b) => a.version.localeCompare(b.version)
      },
      {
        id: 'build',
        label: trans.__('Build'),
        renderCell: v => (
          <code title={v.build_id}>{v.build_id.slice(0, 8)}</code>
        ),
        sort: (a, b) => a.build_id.localeCompare(b.build_id)
      },
      {
        id: 'created',
        label: trans.__('Built'),
        renderCell: v => new Date(v.created_at).toLocaleString(),
        sort: (a, b) => a.created_at.localeCompare(b.created_at)
      },
      {
        id: 'changes',
        label: trans.__('Changes'),
        renderCell: v => (
          <span className="jp-HubApi-changes" data-testid="version-changes">
            {(v.changes ?? []).join(', ')}
          </span>
        ),
        sort: () => undefined
      },
      {
        id: 'state',
        label: trans.__('State'),
        renderCell: v => (v.live ? trans.__('live') : v.status),
        sort: (a, b) => a.status.localeCompare(b.status)
      },
      {
        id: 'deployed',
        label: trans.__('Deployed'),
        renderCell: v =>
          v.deployed_at ? new Date(v.deployed_at).toLocaleString() : '',
        sort: (a, b) => (a.deployed_at ?? '').localeCompare(b.deployed_at ?? '')
      },
      {
        id: 'actions',
        label: trans.__('Actions'),
        renderCell: v =>
          v.live || v.status === 'failed' ? null : (
            <Button small onClick={() => void this._rollback(v)}>
              {trans.__('Roll back to this')}
            </Button>
          ),
        sort: () => undefined
      }
    ];
    return (
      <>
        <DriftNote model={this.model} trans={trans} />
        <LoadedTable<IApiVersion>
          part={this.model.versions}
          columns={columns}
          rowKey={v => String(v.version_number)}
          empty={trans.__('No version yet.')}
          trans={trans}
        />
      </>
    );
  }

  private async _rollback(v: IApiVersion): Promise<void> {
    const trans = this.trans;
    const api = this.model.name;
    const answer = await showDialog({
      title: trans.__('Roll %1 back to version #%2?', api, v.version_number),
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
      await this.model.rollback(v.version_number);
      Notification.success(
        trans.__('%1 is back on version #%2.', api, v.version_number),
        { autoClose: 4000 }
      );
    } catch (error) {
      Notification.error((error as Error).message);
    }
  }
}

/** The newest invocations. */
export class InvocationsTab extends ApiTab {
  constructor(model: ApiModel, trans: TranslationBundle) {
    super(model, trans.__('Invocations'), trans, m => m.loadInvocations());
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const columns: Table.IColumn<IInvocation>[] = [
      {
        id: 'time',
        label: trans.__('Time'),
        renderCell: inv => new Date(inv.ts * 1000).toLocaleString(),
        sort: (a, b) => a.ts - b.ts
      },
      {
        id: 'status',
        label: trans.__('Status'),
        renderCell: inv => (
          <>
            <span className={inv.status < 400 ? 'jp-mod-ok' : 'jp-mod-error'}>
              {inv.status}
            </span>
            {inv.mode === 'async' && (
              <span
                className="jp-HubApi-async-badge"
                title={trans.__(
                  'Submitted with Prefer: respond-async; its result is kept to be fetched.'
                )}
              >
                {trans.__('async, %1', inv.state ?? '')}
              </span>
            )}
          </>
        ),
        sort: (a, b) => a.status - b.status
      },
      {
        id: 'latency',
        label: trans.__('Latency'),
        renderCell: inv => formatLatency(inv.latency_ms),
        sort: (a, b) => (a.latency_ms ?? 0) - (b.latency_ms ?? 0)
      },
      {
        id: 'output',
        label: trans.__('Output or error'),
        renderCell: inv => <code>{inv.error_message ?? inv.output ?? ''}</code>,
        sort: () => undefined
      }
    ];
    return (
      <LoadedTable<IInvocation>
        part={this.model.invocations}
        columns={columns}
        rowKey={inv => inv.id}
        empty={trans.__('No call yet.')}
        trans={trans}
      />
    );
  }
}

/** What the handler printed. */
export class LogsTab extends ApiTab {
  constructor(model: ApiModel, trans: TranslationBundle) {
    super(model, trans.__('Logs'), trans, m => m.loadLogs());
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const { value, error, loading } = this.model.logs;
    return (
      <>
        <div className="jp-HubApi-row">
          <Button
            small
            minimal
            disabled={loading}
            onClick={() => void this.load()}
          >
            <refreshIcon.react tag="span" />
            {trans.__('Refresh')}
          </Button>
          <label
            className="jp-HubApi-follow"
            title={trans.__(
              'Start each line with the time it was printed (hover it for the date); copied with the lines when shown'
            )}
          >
            <input
              type="checkbox"
              data-testid="api-logs-times"
              checked={this._showTimes}
              onChange={e => {
                this._showTimes = e.currentTarget.checked;
                rememberShowTimes(this._showTimes);
                this.update();
              }}
            />
            {trans.__('Times')}
          </label>
        </div>
        {error ? <Problem message={error} /> : null}
        {value?.length ? (
          <pre
            className="jp-HubApi-code jp-HubApi-apiLogs"
            tabIndex={0}
            data-testid="api-logs"
          >
            {value.map((l, i) => (
              <React.Fragment key={l.id}>
                {i ? '\n' : null}
                {this._showTimes ? (
                  <span
                    className="jp-HubApi-logTime"
                    title={formatDateTime(l.ts)}
                  >
                    {`${formatClock(l.ts)} `}
                  </span>
                ) : null}
                {l.line}
              </React.Fragment>
            ))}
          </pre>
        ) : value ? (
          <Hint
            text={trans.__(
              'Nothing printed yet: what the handler prints appears here.'
            )}
          />
        ) : loading ? (
          <Hint text={trans.__('Loading…')} />
        ) : null}
      </>
    );
  }

  /** Whether each line starts with its time (the log panel's remembered choice). */
  private _showTimes = shownTimes();
}

/** The detail panel of one API. */
export class ApiPanel extends TabPanel {
  constructor(
    readonly api: string,
    deployments: DeploymentsModel,
    endpointOf: (endpoint: string) => string,
    options: {
      translator?: ITranslator;
      editorServices?: IEditorServices | null;
    } = {}
  ) {
    super();
    const trans = (options.translator ?? nullTranslator).load(
      'jupyter_hub_api'
    );
    this.addClass('jp-HubApi-apiPanel');
    this.node.dataset.api = api;
    this.node.setAttribute('data-testid', 'hub-api-api-panel');
    this.model = new ApiModel(api, deployments);
    this.console = new TestConsole(
      new TestConsoleModel(api, deployments, {
        onInvoked: () => void deployments.refresh()
      }),
      endpointOf,
      trans,
      options.editorServices ?? null
    );
    const keys = new KeyTable(deployments, trans);
    keys.title.label = trans.__('Keys');
    // Deleted (from its card or its Overview tab): the panel closes.
    deployments.apiDeleted.connect(this._onApiDeleted, this);
    for (const w of [
      new OverviewTab(this.model, trans, endpointOf),
      new VersionsTab(this.model, trans),
      new SettingsTab(this.model, trans),
      new InvocationsTab(this.model, trans),
      new LogsTab(this.model, trans),
      this.console,
      keys
    ]) {
      this.addWidget(w);
    }
  }

  /** The API's model. */
  readonly model: ApiModel;

  /** The test console tab. */
  readonly console: TestConsole;

  /** Show a tab by its name: overview, versions, settings, invocations, logs, test, keys. */
  showTab(tab: string): void {
    const index = (API_TABS as readonly string[]).indexOf(tab);
    if (index >= 0) {
      this.currentIndex = index;
    }
  }

  private _onApiDeleted(_: DeploymentsModel, name: string): void {
    if (name === this.api) {
      this.dispose(); // its MainAreaWidget goes with it
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.model.deployments.apiDeleted.disconnect(this._onApiDeleted, this);
      this.console.model.dispose();
      this.model.dispose();
    }
    super.dispose();
  }
}
