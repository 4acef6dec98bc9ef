/**
 * The deployments panel's model: the user's APIs, the account's quota and API keys, refreshed
 * on demand and whenever a deploy job ends (told by the jobs watcher, never on a timer).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { HubClient } from '../api/client';
import { IApiKey, IApiSummary, IInvocation, IQuota } from '../api/types';

/** Calls per day of a month, from a list of invocations (for the small chart). */
export function callsPerDay(
  invocations: readonly IInvocation[],
  month: string
): number[] {
  const [year, mon] = month.split('-').map(Number);
  const days = new Date(Date.UTC(year, mon, 0)).getUTCDate();
  const counts = new Array(days).fill(0);
  for (const inv of invocations) {
    const date = new Date(inv.ts * 1000);
    if (date.getUTCFullYear() === year && date.getUTCMonth() + 1 === mon) {
      counts[date.getUTCDate() - 1]++;
    }
  }
  return counts;
}

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

/** The data of the deployments panel. */
export class DeploymentsModel {
  /** The list, quota or keys changed (or a refresh failed: see `error`). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get apis(): readonly IApiSummary[] {
    return this._apis;
  }

  get quota(): IQuota | null {
    return this._quota;
  }

  get keys(): readonly IApiKey[] {
    return this._keys;
  }

  /** Why the last refresh failed (e.g. the platform is not running), or null. */
  get error(): string | null {
    return this._error;
  }

  /** True until the first refresh ends. */
  get loading(): boolean {
    return this._loading;
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
    this._changed.emit();
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
      this._error = (error as Error).message;
    }
    this._loading = false;
    this._changed.emit();
  }

  private _apis: IApiSummary[] = [];
  private _quota: IQuota | null = null;
  private _keys: IApiKey[] = [];
  private _error: string | null = null;
  private _loading = true;
  private _pending: Promise<void> | null = null;
  private _changed = new Signal<this, void>(this);
}
