/**
 * One editable text for the extension's views: JupyterLab's own code editor (CodeMirror, from
 * `IEditorServices`, as an inline editor, like JupyterLab's own widgets make theirs), or a
 * labelled textarea when no editor services are there.
 *
 * Tab indents, as in JupyterLab's editors; Escape then Tab (or Shift+Tab) moves the focus out
 * (CodeMirror's tab-focus mode, what JupyterLab's editors do). The Escape is handled here too,
 * so the way out works whatever else listens to Escape.
 */
import { CodeEditor, IEditorServices } from '@jupyterlab/codeeditor';

/** An editor of one text. */
export interface ITextEditor {
  readonly node: HTMLElement;
  getValue(): string;
  setValue(text: string): void;
  /** Called after each change of the text (by `setValue` too, unless `quietSet`). */
  onChange(callback: (text: string) => void): void;
  dispose(): void;
}

export interface ITextEditorOptions {
  initial: string;
  /** The accessible name of the editable element. */
  label: string;
  /** The id of the element that describes it (how to leave it, errors). */
  describedBy?: string;
  mimeType: string;
  /** Class of the host (or the textarea) and its `data-testid`. */
  className: string;
  testid: string;
  /** Rows of the textarea fallback. */
  rows: number;
  lineNumbers?: boolean;
  /** `setValue` does not call the change callbacks (only the user's edits do). */
  quietSet?: boolean;
}

/** Make the editor described by `options`. */
export function createTextEditor(
  services: IEditorServices | null | undefined,
  options: ITextEditorOptions
): ITextEditor {
  const { initial, label, describedBy, className, testid } = options;
  if (services) {
    const host = document.createElement('div');
    host.className = className;
    host.dataset.testid = testid;
    const model = new CodeEditor.Model({ mimeType: options.mimeType });
    model.sharedModel.setSource(initial);
    const editor = services.factoryService.newInlineEditor({
      host,
      model,
      ...(options.lineNumbers ? { config: { lineNumbers: true } } : {})
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
    let setting = false;
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
        setting = !!options.quietSet;
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
  area.className = `jp-mod-styled ${className}`;
  area.rows = options.rows;
  area.spellcheck = false;
  area.dataset.testid = testid;
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
