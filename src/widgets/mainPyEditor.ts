/**
 * The editor of src/main.py on the wizard's review: JupyterLab's own code editor (CodeMirror,
 * from `IEditorServices`, as an inline editor with the Python mimetype, like JupyterLab's own
 * widgets make theirs), or a plain textarea when no editor services are there.
 *
 * Tab indents, as in JupyterLab's editors; Escape then Tab (or Shift+Tab) moves the focus out
 * (CodeMirror's tab-focus mode, what JupyterLab's editors do).
 */
import { CodeEditor, IEditorServices } from '@jupyterlab/codeeditor';

/** An editor of one text. */
export interface ITextEditor {
  readonly node: HTMLElement;
  getValue(): string;
  setValue(text: string): void;
  /** Called after each change made by the user (not by `setValue`). */
  onChange(callback: (text: string) => void): void;
  dispose(): void;
}

/** The Python mimetype JupyterLab's editors use for .py files. */
export const PYTHON_MIMETYPE = 'text/x-python';

/** Make the editor, named `label` for assistive technology and described by `describedBy`. */
export function createPythonEditor(
  services: IEditorServices | null | undefined,
  initial: string,
  label: string,
  describedBy?: string
): ITextEditor {
  let setting = false;
  if (services) {
    const host = document.createElement('div');
    host.className = 'jp-HubApi-mainPyEditor';
    host.dataset.testid = 'main-py';
    const mimeType =
      services.mimeTypeService.getMimeTypeByFilePath('main.py') ||
      PYTHON_MIMETYPE;
    const model = new CodeEditor.Model({ mimeType });
    model.sharedModel.setSource(initial);
    const editor = services.factoryService.newInlineEditor({
      host,
      model,
      config: { lineNumbers: true }
    });
    // The editable element is what Tab and a screen reader reach: name and describe it.
    const editable = host.querySelector('[contenteditable]');
    editable?.setAttribute('aria-label', label);
    if (describedBy) {
      editable?.setAttribute('aria-describedby', describedBy);
    }
    host.addEventListener(
      'keydown',
      (event: KeyboardEvent) => {
        if (event.key === 'Escape') {
          // The next Tab (within 2 s) leaves the editor instead of indenting.
          (editor as any).editor?.setTabFocusMode?.(2000);
        }
      },
      true
    );
    const callbacks: ((text: string) => void)[] = [];
    model.sharedModel.changed.connect(() => {
      if (!setting) {
        const text = model.sharedModel.getSource();
        callbacks.forEach(cb => cb(text));
      }
    });
    return {
      node: host,
      getValue: () => model.sharedModel.getSource(),
      setValue: text => {
        setting = true;
        try {
          model.sharedModel.setSource(text);
        } finally {
          setting = false;
        }
      },
      onChange: callback => callbacks.push(callback),
      dispose: () => {
        editor.dispose();
        model.dispose();
      }
    };
  }
  const area = document.createElement('textarea');
  area.className = 'jp-mod-styled jp-HubApi-mainPyEditor';
  area.rows = 16;
  area.spellcheck = false;
  area.dataset.testid = 'main-py';
  area.setAttribute('aria-label', label);
  if (describedBy) {
    area.setAttribute('aria-describedby', describedBy);
  }
  area.value = initial;
  return {
    node: area,
    getValue: () => area.value,
    setValue: text => (area.value = text),
    onChange: callback =>
      area.addEventListener('input', () => callback(area.value)),
    dispose: () => undefined
  };
}
