import { Widget } from '@lumino/widgets';

import { IFolderListing } from '../src/api/types';
import { JobEvent } from '../src/api/types';
import { LogModel } from '../src/models/logModel';
import { WizardModel } from '../src/models/wizard';
import { LogView } from '../src/widgets/logView';
import { fieldOfReason, WizardWidget } from '../src/widgets/wizard';
import { HubApiError } from '../src/request';

function lines(n: number): JobEvent[] {
  const out: JobEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      offset: i,
      event: 'log',
      stream: 'stdout',
      line: `\x1b[32mline\x1b[0m ${i}`
    });
  }
  return out;
}

describe('LogView', () => {
  it('renders only a window of rows for 100,000 lines, batched per frame', () => {
    const model = new LogModel();
    const frames: (() => void)[] = [];
    const view = new LogView(model, { schedule: cb => frames.push(cb) });
    Widget.attach(view, document.body);
    for (let i = 0; i < 100; i++) {
      model.appendEvents(
        lines(1000).map(e => ({ ...e, offset: e.offset + i * 1000 }))
      );
    }
    // 100 batches asked for a render: one frame is scheduled, not one per batch.
    expect(frames.length).toBe(1);
    frames[0]();
    const rows = view.node.querySelectorAll('.jp-HubApi-logLine');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(200);
    const [first, last] = view.renderedRange;
    expect(last).toBe(100000);
    expect(first).toBeGreaterThan(99000);
    // Colours become JupyterLab's ansi classes.
    expect(
      rows[rows.length - 1].querySelector('.ansi-green-fg')?.textContent
    ).toBe('line');
    Widget.detach(view);
  });

  it('stops following when scrolled to a line above the end', () => {
    const model = new LogModel();
    const view = new LogView(model, { schedule: cb => cb() });
    model.appendEvents(lines(500));
    expect(view.follow).toBe(true);
    view.scrollToLine(10);
    expect(view.follow).toBe(false);
    view.follow = true;
    expect(view.follow).toBe(true);
  });

  it('marks search matches and the current one', () => {
    const model = new LogModel();
    const view = new LogView(model, { schedule: cb => cb() });
    model.appendEvents(lines(5));
    view.setHighlights([1, 3], 3);
    expect(view.node.querySelectorAll('.jp-mod-match').length).toBe(2);
    expect(
      view.node.querySelector('.jp-mod-current')?.getAttribute('data-line')
    ).toBe('3');
  });
});

describe('WizardWidget', () => {
  const services = {
    listFolder: async (path: string): Promise<IFolderListing> => ({
      path,
      entries: [
        { name: 'iris', path: 'iris', type: 'directory', size: null },
        { name: 'model.joblib', path: 'model.joblib', type: 'file', size: 2048 }
      ]
    }),
    listProjects: async () => [{ name: 'other', path: 'x/other' }],
    templatesFor: async () => {
      throw new Error('no templates endpoint');
    }
  };

  it('shows the name error at the field as the user types', async () => {
    const model = new WizardModel();
    const widget = new WizardWidget(model, services, async () => undefined);
    Widget.attach(widget, document.body);
    await new Promise(r => setTimeout(r, 0));
    const input = widget.node.querySelector<HTMLInputElement>(
      '[data-testid="wizard-name"]'
    )!;
    input.value = 'Iris';
    input.dispatchEvent(new Event('input'));
    const error = widget.node.querySelector('[data-testid="name-error"]')!;
    expect(error.textContent).toMatch(/start with a lower-case letter/);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    // A folder already there is taken.
    input.value = 'iris';
    input.dispatchEvent(new Event('input'));
    expect(error.textContent).toMatch(/already exists/);
    input.value = 'iris-2';
    input.dispatchEvent(new Event('input'));
    expect(error.textContent).toBe('');
    widget.dispose();
  });

  it.each(['exists', 'bad_name', 'project_exists'])(
    'maps the reason %s to the name field',
    reason => {
      expect(fieldOfReason(reason)).toBe('name');
    }
  );

  it('shows a server error at the field it belongs to', async () => {
    const model = new WizardModel();
    model.name = 'iris-3';
    model.goTo('review');
    const widget = new WizardWidget(model, services, async () => {
      throw new HubApiError(
        '"iris-3" exists already; choose another name.',
        400,
        'exists'
      );
    });
    Widget.attach(widget, document.body);
    widget.node
      .querySelector<HTMLButtonElement>('[data-testid="wizard-create"]')!
      .click();
    await new Promise(r => setTimeout(r, 0));
    expect(model.step).toBe('name');
    expect(
      widget.node.querySelector('[data-testid="name-error"]')!.textContent
    ).toMatch(/exists already/);
    widget.dispose();
  });

  it('maps server reasons to fields', () => {
    expect(fieldOfReason('bad_name')).toBe('name');
    expect(fieldOfReason('bad_requirements')).toBe('requirements');
    expect(fieldOfReason('not_found')).toBe('files');
    expect(fieldOfReason('bad_mlflow_model')).toBe('files');
    expect(fieldOfReason('internal_error')).toBeNull();
  });
});

describe('wizard steps', () => {
  const services = {
    listFolder: async (path: string): Promise<IFolderListing> => ({
      path,
      entries: []
    }),
    listProjects: async () => [],
    templatesFor: async () => ({
      templates: [
        {
          name: 'sklearn',
          requirements: 'scikit-learn\n',
          main_py: 'import joblib\n',
          pinned: {
            requirements: ['joblib==1.6.0', 'scikit-learn==1.9.1'],
            text: 'joblib==1.6.0\nscikit-learn==1.9.1\n',
            origins: {
              'joblib==1.6.0':
                "import joblib in main.py, at the kernel's version",
              'scikit-learn==1.9.1':
                "the template's requirements.txt, at the kernel's version"
            },
            unresolved: {}
          }
        }
      ],
      kernel: {
        name: 'python3',
        display_name: 'Python 3 (ipykernel)',
        source: 'default',
        python: '/venv/bin/python',
        python_version: '3.11.7'
      }
    })
  };

  it('shows one view per step, and Review keeps the focus in the wizard', async () => {
    const model = new WizardModel();
    model.name = 'iris';
    const widget = new WizardWidget(model, services, async () => undefined);
    Widget.attach(widget, document.body);
    await new Promise(r => setTimeout(r, 0));
    const body = () =>
      widget.node.querySelector<HTMLElement>('.jp-HubApi-wizardBody')!;
    const fields = () =>
      [...body().querySelectorAll<HTMLElement>('[data-field]')].map(
        n => n.dataset.field
      );
    expect(fields()).toEqual(['name', 'parent']);
    model.goTo('model');
    expect(fields()).toEqual(['files', 'template']);
    model.goTo('review');
    expect(fields()).toEqual(['review', 'requirements', 'main_py']);
    // The requirements are on the review, pinned to the kernel, each with its origin.
    const area = body().querySelector<HTMLTextAreaElement>(
      '[data-testid="wizard-requirements"]'
    )!;
    expect(area.value).toBe('joblib==1.6.0\nscikit-learn==1.9.1\n');
    expect(
      body().querySelector('[data-testid="requirement-origins"]')!.textContent
    ).toContain("import joblib in main.py, at the kernel's version");
    expect(
      body().querySelector('[data-testid="requirements-source"]')!.textContent
    ).toContain('Python 3 (ipykernel) (/venv/bin/python, Python 3.11.7)');
    // Headings follow the wizard's h1 without a gap.
    expect(
      [...widget.node.querySelectorAll('h1, h2, h3')].map(h => h.tagName)
    ).toEqual(['H1', 'H2', 'H2', 'H2']);
    // Focus stays in the wizard: the first control of the review.
    expect(body().contains(document.activeElement)).toBe(true);
    // main.py, editable (a textarea here: no editor services in this test).
    expect(
      body().querySelector<HTMLTextAreaElement>('[data-testid="main-py"]')!
        .value
    ).toBe('import joblib\n');
    // An edit is the user's: its line says so.
    area.value = 'joblib==1.6.0\nmy-lib\n';
    area.dispatchEvent(new Event('input'));
    expect(
      body().querySelector('[data-testid="requirement-origins"]')!.textContent
    ).toContain('written by you');
    expect(model.toRequest().requirements).toBe('joblib==1.6.0\nmy-lib\n');
    widget.dispose();
  });
});
