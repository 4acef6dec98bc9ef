import { EditorView } from '@codemirror/view';
import { IEditorServices } from '@jupyterlab/codeeditor';
import {
  CodeMirrorEditorFactory,
  CodeMirrorMimeTypeService,
  EditorExtensionRegistry,
  EditorLanguageRegistry,
  ybinding
} from '@jupyterlab/codemirror';
import { nullTranslator } from '@jupyterlab/translation';

import { MAX_MAIN_PY_BYTES, WizardModel } from '../src/models/wizard';
import { mainPySection } from '../src/widgets/wizardSteps';

const TEMPLATE_MAIN = 'import joblib\n\n\ndef predict(x):\n    return x\n';

function withTemplates(): WizardModel {
  const model = new WizardModel();
  model.name = 'iris';
  model.setTemplates([
    {
      name: 'sklearn',
      label: 'scikit-learn',
      requirements: 'scikit-learn\n',
      main_py: TEMPLATE_MAIN
    } as any
  ]);
  return model;
}

/** JupyterLab's CodeMirror editor services, as the application makes them. */
function editorServices(): IEditorServices {
  const languages = new EditorLanguageRegistry();
  for (const language of EditorLanguageRegistry.getDefaultLanguages()) {
    languages.addLanguage(language);
  }
  // The shared-model binding JupyterLab's codemirror-extension adds to every editor.
  const extensions = new EditorExtensionRegistry();
  for (const extension of EditorExtensionRegistry.getDefaultExtensions()) {
    extensions.addExtension(extension);
  }
  extensions.addExtension({
    name: 'binding',
    factory: ({ model }) =>
      EditorExtensionRegistry.createImmutableExtension(
        ybinding({
          ytext: (model.sharedModel as any).ysource,
          undoManager: (model.sharedModel as any).undoManager ?? undefined
        })
      )
  });
  const factoryService = new CodeMirrorEditorFactory({ languages, extensions });
  return {
    factoryService,
    mimeTypeService: new CodeMirrorMimeTypeService(languages)
  };
}

describe('WizardModel main.py', () => {
  it("follows the template until edited; the edited text is Create's and survives a framework change", () => {
    const model = withTemplates();
    expect(model.mainPy).toBe(TEMPLATE_MAIN);
    expect(model.mainPyEdited).toBe(false);
    expect(model.toRequest().main_py).toBeUndefined();
    model.mainPy = TEMPLATE_MAIN + '# mine\n';
    expect(model.mainPyEdited).toBe(true);
    expect(model.toRequest().main_py).toBe(TEMPLATE_MAIN + '# mine\n');
    model.template = 'pytorch';
    expect(model.mainPy).toBe(TEMPLATE_MAIN + '# mine\n');
    model.resetMainPy();
    expect(model.mainPyEdited).toBe(false);
    // pytorch's main.py is not known here (no server template): nothing to write over.
    expect(model.mainPy).toBeNull();
    expect(model.toRequest().main_py).toBeUndefined();
  });

  it("typing the template's text back is the template again", () => {
    const model = withTemplates();
    model.mainPy = 'x = 1\n';
    model.mainPy = TEMPLATE_MAIN;
    expect(model.mainPyEdited).toBe(false);
    expect(model.toRequest().main_py).toBeUndefined();
  });
  it('refuses a main.py over 1 MiB, at its field on the review', () => {
    const model = withTemplates();
    model.mainPy = '#'.repeat(MAX_MAIN_PY_BYTES + 1);
    expect(model.errors('review').main_py).toBe(
      `main.py is ${MAX_MAIN_PY_BYTES + 1} bytes; keep it under 1 MiB (put data in model/ instead).`
    );
    expect(model.firstInvalidStep()).toBe('review');
    model.resetMainPy();
    expect(model.errors('review').main_py).toBeUndefined();
  });
});

describe('the review step main.py editor', () => {
  it("is JupyterLab's CodeMirror editor, labelled, whose edits become the model's main.py", () => {
    const model = withTemplates();
    const view = mainPySection({
      model,
      services: {} as any,
      trans: nullTranslator.load('jupyter_hub_api'),
      editorServices: editorServices()
    });
    document.body.append(view.node);
    const host = view.node.querySelector<HTMLElement>(
      '[data-testid="main-py"]'
    )!;
    expect(host.querySelector('.cm-editor')).not.toBeNull();
    const editable = host.querySelector<HTMLElement>('[contenteditable]')!;
    expect(editable.getAttribute('aria-label')).toBe('src/main.py');
    expect(editable.getAttribute('aria-describedby')).toBe(
      'hub-api-main-py-hint hub-api-main_py-error'
    );
    expect(editable.textContent).toContain('def predict(x):');
    const reset = view.node.querySelector<HTMLButtonElement>(
      '[data-testid="main-py-reset"]'
    )!;
    expect(reset.disabled).toBe(true);

    // An edit in the editor, as CodeMirror dispatches a user's typing.
    const cm = EditorView.findFromDOM(host.querySelector('.cm-editor')!)!;
    cm.dispatch({
      changes: { from: cm.state.doc.length, insert: '# edited\n' },
      userEvent: 'input.type'
    });
    expect(model.mainPy).toBe(TEMPLATE_MAIN + '# edited\n');
    expect(model.toRequest().main_py).toBe(TEMPLATE_MAIN + '# edited\n');
    expect(reset.disabled).toBe(false);

    reset.click();
    expect(model.mainPy).toBe(TEMPLATE_MAIN);
    expect(cm.state.doc.toString()).toBe(TEMPLATE_MAIN);
    expect(reset.disabled).toBe(true);
    view.dispose?.();
    view.node.remove();
  });

  it('waits for the template text, then shows it in a labelled textarea without editor services', () => {
    const model = new WizardModel();
    model.name = 'iris';
    const view = mainPySection({
      model,
      services: {} as any,
      trans: nullTranslator.load('jupyter_hub_api'),
      editorServices: null
    });
    expect(view.node.querySelector('[data-testid="main-py"]')).toBeNull();
    expect(view.node.textContent).toContain(
      'it opens in the editor once the project is created'
    );
    model.setTemplates([
      { name: 'sklearn', requirements: '', main_py: TEMPLATE_MAIN } as any
    ]);
    const area = view.node.querySelector<HTMLTextAreaElement>(
      'textarea[data-testid="main-py"]'
    )!;
    expect(area.value).toBe(TEMPLATE_MAIN);
    expect(area.getAttribute('aria-label')).toBe('src/main.py');
    area.value = 'print(1)\n';
    area.dispatchEvent(new Event('input'));
    expect(model.mainPy).toBe('print(1)\n');
    view.dispose?.();
  });
});
