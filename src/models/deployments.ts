/**
 * The models of the deployments views. Every server call of those views is here; the views
 * render a model and call its methods.
 *
 * - `DeploymentsModel`: the user's APIs, the account's quota and API keys (with the key
 *   actions and the secrets revealed in this session, in memory only), refreshed on demand and
 *   whenever a deploy job ends (told by the jobs watcher, never on a timer).
 * - `ApiModel`: one API: its summary (from the `DeploymentsModel`), versions, invocations and
 *   log lines, each loaded when its tab is shown, and rollback.
 *
 * Both are `VDomModel`s: `stateChanged` tells the views to render again (Lumino compresses the
 * update requests of one turn into one render).
 */
import { VDomModel } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import { HubClient } from '../api/client';
import {
  IApiKey,
  IApiLogLine,
  IApiSummary,
  IApiVersion,
  IInvocation,
  IProject,
  IQuota,
  IRuntimeSettings
} from '../api/types';

/** "12 %" for a fraction, "–" for none. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) {
    return '–';
  }
  const pct = rate * 100;
  return `${pct < 10 && pct > 0 ? pct.toFixed(1) : Math.round(pct)} %`;
}

/** "85 ms" / "1.2 s" for a latency, "–" for none. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '–';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The number of days of a month given as "YYYY-MM". */
export function daysInMonth(month: string): number {
  const [year, mon] = month.split('-').map(Number);
  return new Date(Date.UTC(year, mon, 0)).getUTCDate();
}

/**
 * Calls per day of the summary's month (index 0 = day 1), from the summary's own
 * `calls_per_day` (kept incrementally by the platform): padded to the month's length.
 */
export function callsPerDay(api: IApiSummary): number[] {
  const days = new Array(daysInMonth(api.month)).fill(0);
  // (a platform older than the counters sends none: the chart is then empty)
  (api.calls_per_day ?? [])
    .slice(0, days.length)
    .forEach((n, i) => (days[i] = n));
  return days;
}

/** The message of an error, for a view. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Something loaded from the server: its value, whether it is loading, why it failed. */
export interface ILoadable<T> {
  readonly value: T | null;
  readonly loading: boolean;
  readonly error: string | null;
}

/** The data of the deployments panel and of the key table. */
export class DeploymentsModel extends VDomModel {
  get apis(): readonly IApiSummary[] {
    return this._apis;
  }

  /** The summary of one API, if it is deployed. */
  api(name: string): IApiSummary | undefined {
    return this._apis.find(a => a.name === name);
  }

  get quota(): IQuota | null {
    return this._quota;
  }

  get keys(): readonly IApiKey[] {
    return this._keys;
  }

  /** The enabled keys (the ones a call can use). */
  get enabledKeys(): readonly IApiKey[] {
    return this._keys.filter(k => k.enabled);
  }

  /** Why the last refresh failed (e.g. the platform is not running), or null. */
  get error(): string | null {
    return this._error;
  }

  /** True until the first refresh ends. */
  get loading(): boolean {
    return this._loading;
  }

  /** The secrets revealed in this session, by key id (kept in memory only, never stored). */
  get revealed(): ReadonlyMap<string, string> {
    return this._revealed;
  }

  /** Fetch the APIs and keys again (concurrent calls share one request). */
  refresh(): Promise<void> {
    if (!this._pending) {
      this._pending = this._refresh().finally(() => (this._pending = null));
    }
    return this._pending;
  }

  /** Fetch the keys only (after a key action). */
  async refreshKeys(): Promise<void> {
    this._keys = await HubClient.keys();
    this._emit();
  }

  /** A key's secret: the one already revealed, or asked of the server (and kept shown). */
  async reveal(id: string): Promise<string> {
    let secret = this._revealed.get(id);
    if (secret === undefined) {
      secret = await HubClient.revealKey(id);
      this._revealed.set(id, secret);
      this._emit();
    }
    return secret;
  }

  /** Stop showing a key's secret. */
  hide(id: string): void {
    if (this._revealed.delete(id)) {
      this._emit();
    }
  }

  /** Create a key (named `name`, or "key"); its secret is shown at once. */
  async createKey(name: string): Promise<IApiKey> {
    const created = await HubClient.createKey(name.trim() || 'key');
    this._revealed.set(created.key.id, created.secret);
    await this.refreshKeys();
    return created.key;
  }

  /** Enable or disable a key. */
  async setKeyEnabled(id: string, enabled: boolean): Promise<void> {
    await HubClient.setKeyEnabled(id, enabled);
    await this.refreshKeys();
  }

  /** Delete a key for good. */
  async deleteKey(id: string): Promise<void> {
    await HubClient.deleteKey(id);
    this._revealed.delete(id);
    await this.refreshKeys();
  }

  /** Emitted with an API's name once it is deleted (its open panels close). */
  get apiDeleted(): ISignal<this, string> {
    return this._apiDeleted;
  }

  /**
   * Delete an API for good (versions, history, logs; callers get 404 from then on). Its card
   * goes at once, `apiDeleted` is emitted, then the list and quota are fetched again. A
   * failure is thrown with the server's sentence and the list is left as it was.
   */
  async deleteApi(name: string): Promise<void> {
    await HubClient.deleteApi(name);
    this._apis = this._apis.filter(a => a.name !== name);
    this._emit();
    this._apiDeleted.emit(name);
    // A fresh request (not one begun before the delete, which could still list the API).
    await (this._pending ?? Promise.resolve()).catch(() => undefined);
    await this.refresh();
  }

  private async _refresh(): Promise<void> {
    try {
      const [apis, keys] = await Promise.all([
        HubClient.apis(),
        HubClient.keys()
      ]);
      this._apis = apis.apis;
      this._quota = apis.quota;
      this._keys = keys;
      this._error = null;
    } catch (error) {
      this._error = messageOf(error);
    }
    this._loading = false;
    this._emit();
  }

  private _emit(): void {
    if (!this.isDisposed) {
      this.stateChanged.emit();
    }
  }

  private _apis: IApiSummary[] = [];
  private _quota: IQuota | null = null;
  private _keys: IApiKey[] = [];
  private _error: string | null = null;
  private _loading = true;
  private _pending: Promise<void> | null = null;
  private _revealed = new Map<string, string>();
  private _apiDeleted = new Signal<this, string>(this);
}

/**
 * The project of an API among the server's projects: the one whose last build is a version of
 * the API, else the only one of its name.
 */
export function projectOf(
  api: string,
  versions: IApiVersion[],
  projects: IProject[]
): IProject | null {
  const builds = new Set(versions.map(v => v.build_id));
  const built = projects.find(p => p.last_build && builds.has(p.last_build));
  if (built) {
    return built;
  }
  const named = projects.filter(p => p.name === api);
  return named.length === 1 ? named[0] : null;
}

/** What `ApiModel` loads per tab. */
type Part = 'versions' | 'invocations' | 'logs';

/** One API: its summary, versions, invocations and log lines. */
export class ApiModel extends VDomModel {
  constructor(
    readonly name: string,
    readonly deployments: DeploymentsModel
  ) {
    super();
    deployments.stateChanged.connect(this._relay, this);
  }

  /** The API's summary (undefined while loading, or when it is not deployed). */
  get summary(): IApiSummary | undefined {
    return this.deployments.api(this.name);
  }

  /** Calls per day of this month, for the chart. */
  get callsPerDay(): number[] {
    const summary = this.summary;
    return summary ? callsPerDay(summary) : [];
  }

  get versions(): ILoadable<IApiVersion[]> {
    return this._parts.versions as ILoadable<IApiVersion[]>;
  }

  get invocations(): ILoadable<IInvocation[]> {
    return this._parts.invocations as ILoadable<IInvocation[]>;
  }

  get logs(): ILoadable<IApiLogLine[]> {
    return this._parts.logs as ILoadable<IApiLogLine[]>;
  }

  /** Fetch the versions, newest first (and the projects, to find this API's). */
  loadVersions(): Promise<void> {
    return this._load('versions', async () => {
      const [versions, projects] = await Promise.all([
        HubClient.versions(this.name),
        HubClient.listProjects().catch(() => [] as IProject[])
      ]);
      this._project = projectOf(this.name, versions, projects);
      return versions;
    });
  }

  /** The project folder this API is deployed from, when one under the server root is. */
  get project(): IProject | null {
    return this._project;
  }

  /**
   * When the live version is not the project's last build (after a rollback, or a build not
   * deployed yet): the project, and the live and built versions. Null when they agree or
   * either is unknown.
   */
  get drift(): {
    project: IProject;
    live: IApiVersion;
    built: IApiVersion | null;
  } | null {
    const project = this._project;
    const versions = this.versions.value;
    const live = versions?.find(v => v.live);
    if (!project?.last_build || !versions || !live) {
      return null;
    }
    if (live.build_id === project.last_build) {
      return null;
    }
    const built = versions.find(v => v.build_id === project.last_build) ?? null;
    return { project, live, built };
  }

  /** Fetch the newest invocations. */
  loadInvocations(limit = 200): Promise<void> {
    return this._load('invocations', () =>
      HubClient.invocations(this.name, limit)
    );
  }

  /** Fetch the newest lines the handler printed. */
  loadLogs(tail = 500): Promise<void> {
    return this._load('logs', () => HubClient.apiLogs(this.name, tail));
  }

  /** The live version's scaling and limits, once the versions are loaded. */
  get runtime(): IRuntimeSettings | null {
    const live = this.versions.value?.find(v => v.live);
    const runtime = live?.runtime as Partial<IRuntimeSettings> | undefined;
    return runtime && runtime.max_workers !== undefined
      ? (runtime as IRuntimeSettings)
      : null;
  }

  /**
   * Change scaling and limits (only the settings that differ from the live version's are
   * sent); then the versions and the summary are fetched. Answers the new version's number,
   * or null when nothing differed.
   */
  async updateRuntime(settings: IRuntimeSettings): Promise<number | null> {
    const current = this.runtime;
    const changes: Partial<IRuntimeSettings> = {};
    for (const [name, value] of Object.entries(settings) as [
      keyof IRuntimeSettings,
      number
    ][]) {
      if (!current || current[name] !== value) {
        changes[name] = value;
      }
    }
    if (!Object.keys(changes).length) {
      return null;
    }
    try {
      const result = await HubClient.updateRuntime(this.name, changes);
      return result.version_number;
    } finally {
      await Promise.all([this.loadVersions(), this.deployments.refresh()]);
    }
  }

  /** Make an earlier version live again; then the versions and the summary are fetched. */
  async rollback(versionNumber: number): Promise<void> {
    try {
      await HubClient.rollback(this.name, versionNumber);
    } finally {
      await Promise.all([this.loadVersions(), this.deployments.refresh()]);
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.deployments.stateChanged.disconnect(this._relay, this);
    }
    super.dispose();
  }

  private async _load(
    part: Part,
    fetch: () => Promise<unknown>
  ): Promise<void> {
    const before = this._parts[part];
    this._parts[part] = { ...before, loading: true };
    this._relay();
    try {
      this._parts[part] = { value: await fetch(), loading: false, error: null };
    } catch (error) {
      this._parts[part] = {
        value: before.value,
        loading: false,
        error: messageOf(error)
      };
    }
    this._relay();
  }

  private _project: IProject | null = null;

  private _relay(): void {
    if (!this.isDisposed) {
      this.stateChanged.emit();
    }
  }

  private _parts: Record<Part, ILoadable<unknown>> = {
    versions: { value: null, loading: false, error: null },
    invocations: { value: null, loading: false, error: null },
    logs: { value: null, loading: false, error: null }
  };
}
