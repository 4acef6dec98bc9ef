/**
 * The plan line and the admin view rendering their models (React through VDomRenderer, in
 * jsdom), over the platform's answer shapes (`platform/control.py` my_plan, admin_*), served to
 * the real `requestAPI` → `ServerConnection` code path through the global `fetch`.
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  AdminModel,
  IAdminUser,
  IMyPlan,
  parseLimit,
  PlanModel
} from '../src/models/admin';
import { DeploymentsModel } from '../src/models/deployments';
import { AdminView, LimitsForm, PlanLine } from '../src/widgets/admin';
import { DeploymentsPanel } from '../src/widgets/deployments';
import { QUOTA, serve, summary, until } from './server';

const trans = nullTranslator.load('jupyter_hub_api');

function myPlan(overrides: Partial<IMyPlan> = {}): IMyPlan {
  return {
    user: 'alice',
    plan: {
      name: 'free',
      max_apis: 5,
      monthly_calls: 1000,
      rate_limit_per_second: 50,
      rate_limit_burst: 100
    },
    source: 'default',
    group: null,
    month: '2026-12',
    quota: {
      plan: 'free',
      monthly_calls: 1000,
      used: 1000,
      remaining: 0,
      max_apis: 5,
      apis: 1,
      rate_limit_per_second: 50
    },
    quota_spent: true,
    renews_at: '2027-01-01T00:00:00Z',
    can_edit: true,
    users_on_plan: 1,
    ...overrides
  };
}

function adminUser(overrides: Partial<IAdminUser> = {}): IAdminUser {
  return {
    name: 'bob',
    is_admin: false,
    disabled: false,
    plan: 'free',
    plan_source: 'default',
    own_plan: null,
    groups: ['staff'],
    created_at: '2026-12-01T00:00:00Z',
    apis: 2,
    month: '2026-12',
    calls_this_month: 1000,
    monthly_calls: 1000,
    remaining: 0,
    quota_spent: true,
    ...overrides
  };
}

describe('parseLimit', () => {
  it('reads numbers, and empty or "none" as no limit', () => {
    expect(parseLimit('100_000', 'Calls', true)).toBe(100000);
    expect(parseLimit(' 1,000 ', 'Calls', true)).toBe(1000);
    expect(parseLimit('', 'Calls', true)).toBeNull();
    expect(parseLimit('none', 'Calls', true)).toBeNull();
    expect(parseLimit('2.5', 'Rate', false)).toBe(2.5);
  });

  it('says in one sentence what is wrong', () => {
    expect(() => parseLimit('lots', 'Calls a month', true)).toThrow(
      'Calls a month: "lots" is not a whole number of 0 or more; leave it empty for no limit.'
    );
    expect(() => parseLimit('2.5', 'APIs', true)).toThrow(/whole number/);
    expect(() => parseLimit('-1', 'Rate', false)).toThrow(/a number of 0/);
  });
});

describe('PlanLine', () => {
  it('shows the plan, a spent quota, and saves new limits', async () => {
    const seen = serve({
      'GET platform/plan': () => [200, myPlan()],
      'PATCH platform/plan': req => [
        200,
        myPlan({
          plan: { ...myPlan().plan, monthly_calls: req.body.monthly_calls },
          quota: {
            ...myPlan().quota,
            monthly_calls: req.body.monthly_calls,
            remaining: 99000
          },
          quota_spent: false
        })
      ]
    });
    const model = new PlanModel();
    await model.refresh();
    const edits: PlanModel[] = [];
    const line = new PlanLine(model, trans, async m => {
      edits.push(m);
      return true;
    });
    Widget.attach(line, document.body);
    await until(() => !!line.node.querySelector('[data-testid="plan-line"]'));
    expect(line.node.textContent).toContain(
      'Plan free (default plan) · 1,000 of 1,000 calls this month'
    );
    const spent = line.node.querySelector('[data-testid="quota-spent"]')!;
    expect(spent.textContent).toContain('answer 429 until 2027-01-01');
    expect(spent.textContent).toContain('hub plan set monthly_calls=N');
    const edit = line.node.querySelector<HTMLButtonElement>(
      '[data-testid="edit-limits"]'
    )!;
    expect(edit.classList).toContain('jp-Button');
    edit.click();
    expect(edits).toEqual([model]);

    await model.setLimits({ monthly_calls: 100000 });
    expect(seen.find(r => r.method === 'PATCH')!.body).toEqual({
      monthly_calls: 100000
    });
    await until(() => !line.node.querySelector('[data-testid="quota-spent"]'));
    expect(line.node.textContent).toContain('1,000 of 100,000 calls');
    line.dispose();
  });

  it('offers no edit to a user who may not change the plan', async () => {
    serve({
      'GET platform/plan': () => [200, myPlan({ can_edit: false })]
    });
    const model = new PlanModel();
    await model.refresh();
    const line = new PlanLine(model, trans);
    Widget.attach(line, document.body);
    await until(() => !!line.node.querySelector('[data-testid="plan-line"]'));
    expect(line.node.querySelector('[data-testid="edit-limits"]')).toBeNull();
    expect(line.node.textContent).toContain('Ask your platform administrator');
    line.dispose();
  });
});

describe('LimitsForm', () => {
  it('is prefilled, reads every limit, and names a bad one', () => {
    const form = new LimitsForm(
      { monthly_calls: 1000, max_apis: null, rate_limit_per_second: 0 },
      trans
    );
    expect(form.input('monthly_calls').value).toBe('1000');
    expect(form.input('max_apis').value).toBe('');
    form.input('monthly_calls').value = '250000';
    expect(form.getValue()).toEqual({
      limits: {
        monthly_calls: 250000,
        max_apis: null,
        rate_limit_per_second: null
      },
      error: null
    });
    form.input('max_apis').value = 'ten';
    expect(form.getValue()).toEqual({
      limits: null,
      error:
        'APIs at once: "ten" is not a whole number of 0 or more; leave it empty for no limit.'
    });
    // Each field has a visible label around its input.
    expect(form.input('max_apis').closest('label')!.textContent).toContain(
      'APIs at once'
    );
  });
});

describe('AdminView', () => {
  function platform() {
    const users = [
      adminUser({
        name: 'alice',
        is_admin: true,
        quota_spent: false,
        calls_this_month: 10
      }),
      adminUser()
    ];
    return serve({
      'GET platform/admin/users': () => [200, { month: '2026-12', users }],
      'GET platform/admin/plans': () => [
        200,
        {
          default_plan: 'free',
          plans: [
            {
              name: 'free',
              max_apis: 5,
              monthly_calls: 1000,
              rate_limit_per_second: 50,
              rate_limit_burst: 100,
              source: 'config',
              users: 2,
              default: true
            },
            {
              name: 'team',
              max_apis: null,
              monthly_calls: 50000,
              rate_limit_per_second: 0,
              rate_limit_burst: 100,
              source: 'database',
              users: 0,
              default: false
            }
          ]
        }
      ],
      'GET platform/admin/apis': () => [
        200,
        {
          apis: [
            summary({ user: 'bob', name: 'iris', quota_spent: true } as any)
          ]
        }
      ],
      'PATCH platform/admin/users/bob': req => {
        Object.assign(users[1], req.body, {
          own_plan: req.body.plan ?? users[1].own_plan
        });
        return [200, users[1]];
      }
    });
  }

  it("lists everyone's plan and usage, and changes a user's plan", async () => {
    const seen = platform();
    const model = new AdminModel();
    await model.refresh();
    const view = new AdminView(model, trans);
    Widget.attach(view, document.body);
    await until(() => view.node.querySelectorAll('tbody tr').length === 2);
    const rows = [...view.node.querySelectorAll('tbody tr')];
    expect(rows[0].textContent).toContain('alice (admin)');
    expect(rows[1].textContent).toContain('1,000 of 1,000 · quota spent');
    expect(rows[1].textContent).toContain('staff');
    const select = rows[1].querySelector('select')!;
    expect(select.getAttribute('aria-label')).toBe('Plan of bob');
    expect([...select.options].map(o => o.textContent)).toEqual([
      'free (from default)',
      'free',
      'team'
    ]);
    await model.setUserPlan('bob', 'team');
    const patch = seen.find(r => r.method === 'PATCH')!;
    expect(patch.path).toBe('platform/admin/users/bob');
    expect(patch.body).toEqual({ plan: 'team' });

    // Disable: the button of bob's row (an admin's own row has none).
    expect(rows[0].querySelector('button')).toBeNull();
    const disable = rows[1].querySelector<HTMLButtonElement>(
      'button[aria-label="Disable bob"]'
    )!;
    disable.click();
    await until(
      () => seen.filter(r => r.method === 'PATCH').length === 2,
      'the disable request'
    );
    expect(seen.filter(r => r.method === 'PATCH')[1].body).toEqual({
      disabled: true
    });
    view.dispose();
  });

  it('shows the plans and every API, with a spent quota', async () => {
    platform();
    const model = new AdminModel();
    await model.refresh();
    const view = new AdminView(model, trans);
    Widget.attach(view, document.body);
    model.section = 'plans';
    await until(() => view.node.textContent!.includes('free (default)'));
    expect(view.node.textContent).toContain('50,000');
    model.section = 'apis';
    await until(() => view.node.textContent!.includes('quota spent'));
    const row = view.node.querySelector('tbody tr')!;
    expect(row.textContent).toContain('bob');
    expect(row.textContent).toContain('iris');
    view.dispose();
  });

  it("says why when the user is not an admin (the platform's sentence)", async () => {
    serve({
      'GET platform/admin/users': () => [
        403,
        {
          message:
            "Only a platform admin may list users; ask your platform's administrator.",
          reason: 'forbidden'
        }
      ]
    });
    const model = new AdminModel();
    await model.refresh();
    const view = new AdminView(model, trans);
    Widget.attach(view, document.body);
    await until(() => !!view.node.querySelector('[role="alert"]'));
    expect(view.node.querySelector('[role="alert"]')!.textContent).toBe(
      "Only a platform admin may list users; ask your platform's administrator."
    );
    view.dispose();
  });
});

describe('DeploymentsPanel with the plan line', () => {
  it('marks a spent quota on the card and shows the admin view to an admin', async () => {
    serve({
      'GET platform/apis': () => [
        200,
        { apis: [summary({ quota_spent: true } as any)], quota: QUOTA }
      ],
      'GET platform/keys': () => [200, { keys: [] }],
      'GET platform/plan': () => [200, myPlan()],
      'GET platform/admin/users': () => [
        200,
        {
          month: '2026-12',
          users: [adminUser({ name: 'alice', is_admin: true })]
        }
      ],
      'GET platform/admin/plans': () => [
        200,
        { default_plan: 'free', plans: [] }
      ],
      'GET platform/admin/apis': () => [200, { apis: [] }]
    });
    const model = new DeploymentsModel();
    const panel = new DeploymentsPanel(
      model,
      () => undefined,
      e => e
    );
    Widget.attach(panel, document.body);
    panel.show();
    await model.refresh();
    await panel.plan.refresh();
    await until(
      () => !!panel.node.querySelector('[data-testid="quota-spent"]'),
      'the plan line'
    );
    const status = panel.node.querySelector('[data-testid="api-status"]')!;
    expect(status.textContent).toBe(
      'quota spent · calls answer 429 (see the plan above)'
    );
    await until(() => !panel.adminView.isHidden, 'the admin view');
    await until(() =>
      panel.adminView.node.textContent!.includes('alice (admin)')
    );
    panel.dispose();
  });
});
