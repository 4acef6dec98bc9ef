/**
 * The models of the plan line and of the admin view (plans helper).
 *
 * - `PlanModel`: the user's plan, where it comes from, and this month's use of it
 *   (`GET /hub-api/platform/plan`); `setLimits` changes the plan's limits (admins: on an
 *   embedded platform, its owner).
 * - `AdminModel`: every user with plan and usage, the plans, every API
 *   (`/hub-api/platform/admin/...`), and the admin's changes (a user's plan, disabled).
 *
 * Both are `VDomModel`s: `stateChanged` tells the views to render again.
 */
import { VDomModel } from '@jupyterlab/ui-components';

import { components } from '../api/generated/platform';
import { requestAPI } from '../request';

type Schemas = components['schemas'];

export type IMyPlan = Schemas['MyPlan'];
export type IAdminUser = Schemas['AdminUser'];
export type IPlanInfo = Schemas['PlanInfo'];
export type IAdminApi = Schemas['ApiSummary'];

/** The limits a plan change may send; `null` means no limit. */
export interface IPlanLimits {
  monthly_calls?: number | null;
  max_apis?: number | null;
  rate_limit_per_second?: number | null;
}

/** The limits the edit dialog offers, with what each must be. */
export const LIMIT_FIELDS: {
  key: keyof IPlanLimits;
  label: string;
  whole: boolean;
}[] = [
  { key: 'monthly_calls', label: 'Calls a month', whole: true },
  { key: 'max_apis', label: 'APIs at once', whole: true },
  {
    key: 'rate_limit_per_second',
    label: 'Calls a second per key',
    whole: false
  }
];

/**
 * One limit typed in the dialog: empty, "none" or "unlimited" is no limit (null); else a
 * number of 0 or more (a whole number where `whole`). Throws one sentence when it is neither.
 */
export function parseLimit(
  text: string,
  label: string,
  whole: boolean
): number | null {
  const raw = text.trim().replace(/[_,\s]/g, '');
  if (raw === '' || ['none', 'unlimited', '∞'].includes(raw.toLowerCase())) {
    return null;
  }
  const value = Number(raw);
  if (
    !Number.isFinite(value) ||
    value < 0 ||
    (whole && !Number.isInteger(value))
  ) {
    throw new Error(
      `${label}: "${text.trim()}" is not ${
        whole ? 'a whole number' : 'a number'
      } of 0 or more; leave it empty for no limit.`
    );
  }
  return value;
}

/** "812 of 1,000 calls this month", "812 calls this month (no limit)". */
export function usagePhrase(plan: IMyPlan): string {
  const used = plan.quota.used.toLocaleString('en-US');
  const limit = plan.quota.monthly_calls;
  return limit === null
    ? `${used} calls this month (no limit)`
    : `${used} of ${limit.toLocaleString('en-US')} calls this month`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function send<T>(method: string, path: string, body: unknown): Promise<T> {
  return requestAPI<T>(path, { method, body: JSON.stringify(body) });
}

/** The user's plan and its use this month. */
export class PlanModel extends VDomModel {
  get plan(): IMyPlan | null {
    return this._plan;
  }
  get loading(): boolean {
    return this._loading;
  }
  get error(): string | null {
    return this._error;
  }

  async refresh(): Promise<void> {
    this._loading = true;
    this.stateChanged.emit();
    try {
      this._plan = await requestAPI<IMyPlan>('platform/plan');
      this._error = null;
    } catch (error) {
      this._error = messageOf(error);
    } finally {
      this._loading = false;
      this.stateChanged.emit();
    }
  }

  /** Change the plan's limits (only those given); throws the platform's sentence. */
  async setLimits(limits: IPlanLimits): Promise<IMyPlan> {
    const plan = await send<IMyPlan>('PATCH', 'platform/plan', limits);
    this._plan = plan;
    this._error = null;
    this.stateChanged.emit();
    return plan;
  }

  private _plan: IMyPlan | null = null;
  private _loading = false;
  private _error: string | null = null;
}

/** The views of the admin panel. */
export type AdminSection = 'users' | 'plans' | 'apis';

/** Every user, plan and API of the platform, for its admins. */
export class AdminModel extends VDomModel {
  get users(): readonly IAdminUser[] {
    return this._users;
  }
  get plans(): readonly IPlanInfo[] {
    return this._plans;
  }
  get apis(): readonly IAdminApi[] {
    return this._apis;
  }
  get month(): string {
    return this._month;
  }
  get loading(): boolean {
    return this._loading;
  }
  get error(): string | null {
    return this._error;
  }
  get section(): AdminSection {
    return this._section;
  }
  set section(section: AdminSection) {
    this._section = section;
    this.stateChanged.emit();
  }

  /** Load users, plans and APIs (a non-admin gets the platform's 403 sentence as `error`). */
  async refresh(): Promise<void> {
    this._loading = true;
    this.stateChanged.emit();
    try {
      // The users first: a non-admin gets the platform's own sentence for that.
      const users = await requestAPI<{ month: string; users: IAdminUser[] }>(
        'platform/admin/users'
      );
      const [plans, apis] = await Promise.all([
        requestAPI<{ plans: IPlanInfo[] }>('platform/admin/plans'),
        requestAPI<{ apis: IAdminApi[] }>('platform/admin/apis')
      ]);
      this._users = users.users;
      this._month = users.month;
      this._plans = plans.plans;
      this._apis = apis.apis;
      this._error = null;
    } catch (error) {
      this._error = messageOf(error);
    } finally {
      this._loading = false;
      this.stateChanged.emit();
    }
  }

  /** Give a user their own plan (null: back to their groups' or the default plan). */
  async setUserPlan(user: string, plan: string | null): Promise<IAdminUser> {
    return this._changeUser(user, { plan });
  }

  /** Disable or enable a user. */
  async setDisabled(user: string, disabled: boolean): Promise<IAdminUser> {
    return this._changeUser(user, { disabled });
  }

  /** Create a plan or change its limits. */
  async savePlan(name: string, limits: IPlanLimits): Promise<IPlanInfo> {
    const plan = await send<IPlanInfo>(
      'PUT',
      `platform/admin/plans/${encodeURIComponent(name)}`,
      limits
    );
    await this.refresh();
    return plan;
  }

  private async _changeUser(
    user: string,
    body: Record<string, unknown>
  ): Promise<IAdminUser> {
    const changed = await send<IAdminUser>(
      'PATCH',
      `platform/admin/users/${encodeURIComponent(user)}`,
      body
    );
    await this.refresh();
    return changed;
  }

  private _users: IAdminUser[] = [];
  private _plans: IPlanInfo[] = [];
  private _apis: IAdminApi[] = [];
  private _month = '';
  private _loading = false;
  private _error: string | null = null;
  private _section: AdminSection = 'users';
}
