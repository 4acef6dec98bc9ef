/**
 * The plan line of the deployments panel and the admin view (plans helper).
 *
 * - `PlanLine`: "plan free · 812 of 1,000 calls this month", a warning when the monthly quota
 *   is used up, and "Edit limits" (the platform's admins: on an embedded platform its owner),
 *   which opens a JupyterLab dialog with the plan's limits.
 * - `AdminView`: for a shared platform's admins, every user with plan and usage, the plans, and
 *   every API (JupyterLab's `Table`), with a user's plan and disabled flag changed in place.
 *
 * Both render their models of `models/admin.ts` through `VDomRenderer`.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, Table, VDomRenderer } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import {
  AdminModel,
  AdminSection,
  IAdminApi,
  IAdminUser,
  IMyPlan,
  IPlanInfo,
  IPlanLimits,
  LIMIT_FIELDS,
  parseLimit,
  PlanModel,
  usagePhrase
} from '../models/admin';
import { Hint, Problem } from './parts';

function limitText(value: number | null | undefined): string {
  return value === null || value === undefined || value === 0
    ? '∞'
    : value.toLocaleString('en-US');
}

/** What the limits dialog gives: the limits, or why they are not limits. */
export interface ILimitsAnswer {
  limits: IPlanLimits | null;
  error: string | null;
}

/** The limits of a dialog's answer, or null after telling the user what was wrong. */
function limitsOf(answer: Dialog.IResult<ILimitsAnswer>): IPlanLimits | null {
  if (!answer.button.accept || answer.value === null) {
    return null;
  }
  if (answer.value.error) {
    Notification.error(answer.value.error, { autoClose: false });
  }
  return answer.value.limits;
}

/**
 * The body of the "Edit limits" dialog: one labelled field per limit, prefilled; `getValue`
 * reads them (throws one sentence for a value that is not a limit).
 */
export class LimitsForm extends Widget {
  constructor(
    current: IPlanLimits,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HubApi-limitsForm');
    for (const field of LIMIT_FIELDS) {
      const label = document.createElement('label');
      label.textContent = _trans.__(field.label);
      const input = document.createElement('input');
      input.className = 'jp-mod-styled';
      input.name = field.key;
      input.inputMode = 'numeric';
      const value = current[field.key];
      input.value =
        value === null || value === undefined || value === 0
          ? ''
          : String(value);
      input.placeholder = _trans.__('no limit');
      label.appendChild(input);
      this.node.appendChild(label);
      this._inputs.set(field.key, input);
    }
    const hint = document.createElement('p');
    hint.className = 'jp-HubApi-hint';
    hint.textContent = _trans.__('Leave a field empty for no limit.');
    this.node.appendChild(hint);
  }

  /** The limits as typed (every field: a plan change sends them all), or the sentence of
   * the first field that is not a limit. */
  getValue(): ILimitsAnswer {
    const limits: IPlanLimits = {};
    try {
      for (const field of LIMIT_FIELDS) {
        const input = this._inputs.get(field.key)!;
        limits[field.key] = parseLimit(
          input.value,
          this._trans.__(field.label),
          field.whole
        );
      }
    } catch (error) {
      return { limits: null, error: (error as Error).message };
    }
    return { limits, error: null };
  }

  /** The input of one limit (tests type into it). */
  input(key: keyof IPlanLimits): HTMLInputElement {
    return this._inputs.get(key)!;
  }

  private _inputs = new Map<keyof IPlanLimits, HTMLInputElement>();
}

/** Ask for new limits and save them; returns whether they were saved. */
export async function editLimits(
  model: PlanModel,
  trans: TranslationBundle
): Promise<boolean> {
  const plan = model.plan;
  if (!plan) {
    return false;
  }
  const others = plan.users_on_plan - 1;
  const answer = await showDialog({
    title:
      others > 0
        ? trans.__(
            'Limits of plan %1 (also for %2 other users)',
            plan.plan.name,
            others
          )
        : trans.__('Limits of plan %1', plan.plan.name),
    body: new LimitsForm(plan.plan, trans),
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: trans.__('Save limits') })
    ],
    focusNodeSelector: 'input'
  });
  const limits = limitsOf(answer);
  if (limits === null) {
    return false;
  }
  try {
    await model.setLimits(limits);
    Notification.success(trans.__('The new limits apply now.'), {
      autoClose: 4000
    });
    return true;
  } catch (error) {
    Notification.error((error as Error).message, { autoClose: false });
    return false;
  }
}

/** The user's plan and its use this month, with "Edit limits" for the platform's admins. */
export class PlanLine extends VDomRenderer<PlanModel> {
  constructor(
    model: PlanModel,
    private _trans: TranslationBundle,
    private _edit: (model: PlanModel) => Promise<boolean> = m =>
      editLimits(m, _trans)
  ) {
    super(model);
    this.addClass('jp-HubApi-planLine');
  }

  protected render(): JSX.Element | null {
    const trans = this._trans;
    // Nothing without a plan: when the platform cannot be read, the list says why.
    const plan = this.model.plan;
    if (!plan) {
      return null;
    }
    return (
      <section aria-label={trans.__('Plan')} data-testid="plan-line">
        <div className="jp-HubApi-planSummary">
          <span>
            {trans.__(
              'Plan %1 (%2) · %3',
              plan.plan.name,
              sourcePhrase(plan, trans),
              usagePhrase(plan)
            )}
          </span>
          {plan.can_edit ? (
            <Button
              small
              minimal
              data-testid="edit-limits"
              onClick={() => void this._edit(this.model)}
            >
              {trans.__('Edit limits')}
            </Button>
          ) : null}
        </div>
        {plan.quota_spent ? (
          <p
            className="jp-HubApi-warning"
            role="status"
            data-testid="quota-spent"
          >
            {spentSentence(plan, trans)}
          </p>
        ) : null}
      </section>
    );
  }
}

/** Where the user's plan comes from, in a few words. */
export function sourcePhrase(plan: IMyPlan, trans: TranslationBundle): string {
  switch (plan.source) {
    case 'user':
      return trans.__('set for you');
    case 'config':
      return trans.__("the platform's config");
    case 'group':
      return trans.__('group %1', plan.group ?? '');
    default:
      return trans.__('default plan');
  }
}

/** Why every call answers 429 now, and what to do. */
export function spentSentence(plan: IMyPlan, trans: TranslationBundle): string {
  const renews = plan.renews_at.slice(0, 10);
  return plan.can_edit
    ? trans.__(
        'The monthly quota is used up: your APIs answer 429 until %1. Raise it with Edit limits or `hub plan set monthly_calls=N`.',
        renews
      )
    : trans.__(
        'The monthly quota is used up: your APIs answer 429 until %1. Ask your platform administrator for a bigger plan.',
        renews
      );
}

const SECTIONS: AdminSection[] = ['users', 'plans', 'apis'];

/** Every user, plan and API of the platform (its admins). */
export class AdminView extends VDomRenderer<AdminModel> {
  constructor(
    model: AdminModel,
    private _trans: TranslationBundle
  ) {
    super(model);
    this.addClass('jp-HubApi-adminView');
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const model = this.model;
    const names: Record<AdminSection, string> = {
      users: trans.__('Users'),
      plans: trans.__('Plans'),
      apis: trans.__('All APIs')
    };
    let body: React.ReactNode;
    if (model.error) {
      body = <Problem message={model.error} />;
    } else if (model.loading && !model.users.length) {
      body = <Hint text={trans.__('Loading…')} />;
    } else if (model.section === 'users') {
      body = this._users();
    } else if (model.section === 'plans') {
      body = this._plans();
    } else {
      body = this._apis();
    }
    return (
      <>
        <h2 className="jp-HubApi-adminTitle">
          {trans.__('Platform admin · %1 (UTC)', model.month || '…')}
        </h2>
        <div className="jp-HubApi-adminSections" role="group">
          {SECTIONS.map(section => (
            <Button
              key={section}
              small
              minimal={model.section !== section}
              aria-pressed={model.section === section}
              data-testid={`admin-${section}`}
              onClick={() => (model.section = section)}
            >
              {names[section]}
            </Button>
          ))}
        </div>
        {body}
      </>
    );
  }

  private _users(): JSX.Element {
    const trans = this._trans;
    const model = this.model;
    const plans = model.plans.map(p => p.name);
    const columns: Table.IColumn<IAdminUser>[] = [
      {
        id: 'name',
        label: trans.__('User'),
        renderCell: u => (u.is_admin ? trans.__('%1 (admin)', u.name) : u.name),
        sort: (a, b) => a.name.localeCompare(b.name)
      },
      {
        id: 'plan',
        label: trans.__('Plan'),
        renderCell: u => (
          <select
            className="jp-mod-styled"
            aria-label={trans.__('Plan of %1', u.name)}
            value={u.own_plan ?? ''}
            onChange={event =>
              void this._do(() =>
                model.setUserPlan(u.name, event.target.value || null)
              )
            }
          >
            <option value="">
              {trans.__('%1 (from %2)', u.plan, u.plan_source)}
            </option>
            {plans.map(p => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        ),
        sort: (a, b) => a.plan.localeCompare(b.plan)
      },
      {
        id: 'groups',
        label: trans.__('Groups'),
        renderCell: u => u.groups.join(', ') || '–',
        sort: () => 0
      },
      {
        id: 'apis',
        label: trans.__('APIs'),
        renderCell: u => String(u.apis),
        sort: (a, b) => a.apis - b.apis
      },
      {
        id: 'calls',
        label: trans.__('Calls this month'),
        renderCell: u => (
          <span className={u.quota_spent ? 'jp-mod-error' : undefined}>
            {trans.__(
              '%1 of %2',
              u.calls_this_month.toLocaleString('en-US'),
              limitText(u.monthly_calls)
            )}
            {u.quota_spent ? ` · ${trans.__('quota spent')}` : ''}
          </span>
        ),
        sort: (a, b) => a.calls_this_month - b.calls_this_month
      },
      {
        id: 'state',
        label: trans.__('Account'),
        renderCell: u =>
          u.is_admin && !u.disabled ? (
            trans.__('enabled')
          ) : (
            <Button
              small
              minimal
              aria-label={
                u.disabled
                  ? trans.__('Enable %1', u.name)
                  : trans.__('Disable %1', u.name)
              }
              onClick={() =>
                void this._do(() => model.setDisabled(u.name, !u.disabled))
              }
            >
              {u.disabled ? trans.__('Enable') : trans.__('Disable')}
            </Button>
          ),
        sort: () => 0
      }
    ];
    return (
      <Table<IAdminUser>
        columns={columns}
        rows={model.users.map(u => ({ data: u, key: u.name }))}
        blankIndicator={() => trans.__('No users.')}
      />
    );
  }

  private _plans(): JSX.Element {
    const trans = this._trans;
    const columns: Table.IColumn<IPlanInfo>[] = [
      {
        id: 'name',
        label: trans.__('Plan'),
        renderCell: p =>
          p.default ? trans.__('%1 (default)', p.name) : p.name,
        sort: (a, b) => a.name.localeCompare(b.name)
      },
      {
        id: 'calls',
        label: trans.__('Calls a month'),
        renderCell: p => limitText(p.monthly_calls),
        sort: () => 0
      },
      {
        id: 'apis',
        label: trans.__('APIs'),
        renderCell: p => limitText(p.max_apis),
        sort: () => 0
      },
      {
        id: 'rate',
        label: trans.__('Calls a second per key'),
        renderCell: p => limitText(p.rate_limit_per_second),
        sort: () => 0
      },
      {
        id: 'users',
        label: trans.__('Users'),
        renderCell: p => String(p.users),
        sort: (a, b) => a.users - b.users
      },
      {
        id: 'edit',
        label: trans.__('Edit'),
        renderCell: p => (
          <Button
            small
            minimal
            aria-label={trans.__('Edit the limits of %1', p.name)}
            onClick={() => void this._editPlan(p)}
          >
            {trans.__('Edit limits')}
          </Button>
        ),
        sort: () => 0
      }
    ];
    return (
      <Table<IPlanInfo>
        columns={columns}
        rows={this.model.plans.map(p => ({ data: p, key: p.name }))}
        blankIndicator={() => trans.__('No plans.')}
      />
    );
  }

  private _apis(): JSX.Element {
    const trans = this._trans;
    const columns: Table.IColumn<IAdminApi>[] = [
      {
        id: 'user',
        label: trans.__('User'),
        renderCell: a => a.user,
        sort: (a, b) => a.user.localeCompare(b.user)
      },
      {
        id: 'name',
        label: trans.__('API'),
        renderCell: a => a.name,
        sort: (a, b) => a.name.localeCompare(b.name)
      },
      {
        id: 'status',
        label: trans.__('Status'),
        renderCell: a =>
          a.quota_spent ? (
            <span className="jp-mod-error">{trans.__('quota spent')}</span>
          ) : (
            a.status
          ),
        sort: () => 0
      },
      {
        id: 'version',
        label: trans.__('Version'),
        renderCell: a =>
          a.live_version ? `#${a.live_version.version_number}` : '–',
        sort: () => 0
      },
      {
        id: 'calls',
        label: trans.__('Calls this month'),
        renderCell: a => a.calls_this_month.toLocaleString('en-US'),
        sort: (a, b) => a.calls_this_month - b.calls_this_month
      },
      {
        id: 'endpoint',
        label: trans.__('Endpoint'),
        renderCell: a => <code>{a.endpoint}</code>,
        sort: () => 0
      }
    ];
    return (
      <Table<IAdminApi>
        columns={columns}
        rows={this.model.apis.map(a => ({
          data: a,
          key: `${a.user}/${a.name}`
        }))}
        blankIndicator={() => trans.__('No APIs on this platform yet.')}
      />
    );
  }

  private async _editPlan(plan: IPlanInfo): Promise<void> {
    const trans = this._trans;
    const answer = await showDialog({
      title: trans.__('Limits of plan %1 (%2 users)', plan.name, plan.users),
      body: new LimitsForm(plan, trans),
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: trans.__('Save limits') })
      ],
      focusNodeSelector: 'input'
    });
    const limits = limitsOf(answer);
    if (limits !== null) {
      await this._do(() => this.model.savePlan(plan.name, limits));
    }
  }

  private async _do(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      Notification.error((error as Error).message, { autoClose: false });
    }
  }
}
