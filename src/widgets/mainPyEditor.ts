/**
 * The editor of src/main.py on the wizard's review: JupyterLab's own code editor (CodeMirror,
 * from `IEditorServices`, as an inline editor with the Python mimetype, like JupyterLab's own
 * widgets make theirs), or a plain textarea when no editor services are there.
 *
 * Tab indents, as in JupyterLab's editors; Escape then Tab (or Shift+Tab) moves the focus out
 * (CodeMirror's tab-focus mode, what JupyterLab's editors do).
 */
import { IEditorServices } from '@jupyterlab/codeeditor';

import { createTextEditor, ITextEditor } from './textEditor';

export type { ITextEditor } from './textEditor';

/** The Python mimetype JupyterLab's editors use for .py files. */
export const PYTHON_MIMETYPE = 'text/x-python';

/** Make the editor, named `label` for assistive technology and described by `describedBy`. */
export function createPythonEditor(
  services: IEditorServices | null | undefined,
  initial: string,
  label: string,
  describedBy?: string
): ITextEditor {
  return createTextEditor(services, {
    initial,
    label,
    describedBy,
    mimeType:
      services?.mimeTypeService.getMimeTypeByFilePath('main.py') ||
      PYTHON_MIMETYPE,
    className: 'jp-HubApi-mainPyEditor',
    testid: 'main-py',
    rows: 16,
    lineNumbers: true,
    quietSet: true
  });
}
