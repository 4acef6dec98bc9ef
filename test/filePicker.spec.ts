import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IFolderListing } from '../src/api/types';
import { WizardModel } from '../src/models/wizard';
import { FilePicker } from '../src/widgets/filePicker';

const LISTING: IFolderListing = {
  path: 'work',
  entries: [
    {
      name: 'Checkpoints',
      path: 'work/Checkpoints',
      type: 'directory',
      size: null
    },
    { name: 'iris.joblib', path: 'work/iris.joblib', type: 'file', size: 2048 },
    {
      name: 'IRIS-notes.txt',
      path: 'work/IRIS-notes.txt',
      type: 'file',
      size: 10
    },
    { name: 'vocab.json', path: 'work/vocab.json', type: 'file', size: 99 }
  ]
};

const services = {
  listFolder: async (): Promise<IFolderListing> => LISTING,
  listProjects: async () => [],
  templatesFor: async () => ({ templates: [] })
};

async function picker(): Promise<[FilePicker, WizardModel]> {
  const model = new WizardModel();
  const widget = new FilePicker(
    model,
    services,
    nullTranslator.load('jupyter_hub_api'),
    'work'
  );
  Widget.attach(widget, document.body);
  await new Promise(r => setTimeout(r, 0));
  return [widget, model];
}

function rows(widget: FilePicker): string[] {
  return [...widget.node.querySelectorAll<HTMLElement>('tr[data-name]')].map(
    r => r.dataset.name!
  );
}

function type(input: HTMLInputElement, text: string): void {
  input.value = text;
  input.dispatchEvent(new Event('input'));
}

describe('FilePicker search box', () => {
  it('filters the rows by name as one types, ignoring case, with a name for screen readers', async () => {
    const [widget, model] = await picker();
    const search = widget.node.querySelector<HTMLInputElement>(
      '[data-testid="file-search"]'
    )!;
    expect(search.closest('.jp-InputGroup')).not.toBeNull();
    expect(search.getAttribute('aria-label')).toBe(
      'Filter the files of this folder by name'
    );
    expect(rows(widget)).toHaveLength(4);
    type(search, 'iRiS');
    expect(rows(widget)).toEqual(['iris.joblib', 'IRIS-notes.txt']);
    expect(model.fileFilter).toBe('iRiS');
    expect(widget.node.querySelector('[role="status"]')!.textContent).toBe(
      '2 entries match'
    );
    type(search, 'point');
    expect(rows(widget)).toEqual(['Checkpoints']);
    widget.dispose();
  });

  it("says 'No file matches' when nothing does, and clears with Escape or the button", async () => {
    const [widget] = await picker();
    const search = widget.node.querySelector<HTMLInputElement>(
      '[data-testid="file-search"]'
    )!;
    const clear = widget.node.querySelector<HTMLButtonElement>(
      '[data-testid="file-search-clear"]'
    )!;
    expect(clear.hidden).toBe(true);
    type(search, 'xyz');
    expect(rows(widget)).toEqual([]);
    expect(
      widget.node.querySelector('[data-testid="file-search-empty"]')!
        .textContent
    ).toBe("No file matches 'xyz'.");
    expect(clear.hidden).toBe(false);
    const escape = new KeyboardEvent('keydown', {
      key: 'Escape',
      bubbles: true,
      cancelable: true
    });
    search.dispatchEvent(escape);
    expect(escape.defaultPrevented).toBe(true);
    expect(search.value).toBe('');
    expect(rows(widget)).toHaveLength(4);
    expect(
      widget.node.querySelector('[data-testid="file-search-empty"]')
    ).toBeNull();
    type(search, 'vocab');
    expect(rows(widget)).toEqual(['vocab.json']);
    clear.click();
    expect(search.value).toBe('');
    expect(document.activeElement).toBe(search);
    expect(rows(widget)).toHaveLength(4);
    widget.dispose();
  });

  it('keeps picked files that the filter hides, and shows their ticks again', async () => {
    const [widget, model] = await picker();
    // The folder's only model file was picked when it was first shown.
    expect([...model.files.keys()]).toEqual(['work/iris.joblib']);
    const search = widget.node.querySelector<HTMLInputElement>(
      '[data-testid="file-search"]'
    )!;
    type(search, 'vocab');
    widget.node
      .querySelector<HTMLInputElement>('input[data-path="work/vocab.json"]')!
      .click();
    expect([...model.files.keys()].sort()).toEqual([
      'work/iris.joblib',
      'work/vocab.json'
    ]);
    expect(
      widget.node.querySelector('[data-testid="picked-files"]')!.textContent
    ).toContain('work/iris.joblib');
    type(search, '');
    const ticked = [
      ...widget.node.querySelectorAll<HTMLInputElement>('input[data-path]')
    ]
      .filter(b => b.checked)
      .map(b => b.dataset.path);
    expect(ticked.sort()).toEqual(['work/iris.joblib', 'work/vocab.json']);
    widget.dispose();
  });
});
