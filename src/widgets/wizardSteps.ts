/**
 * One small view per step of the wizard, over `WizardModel`: each makes its node, writes what
 * the user does into the model, and is disposed when the wizard leaves the step. The wizard
 * (`wizard.ts`) shows the current one and the errors at its fields (`[data-field]`).
 */
import { IEditorServices } from '@jupyterlab/codeeditor';
import { PageConfig } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  basename,
  IWizardServices,
  MLFLOW,
  TEMPLATE_LABELS,
  WizardModel,
  WizardStep
} from '../models/wizard';
import { button, formatBytes, h } from './dom';
import { FilePicker } from './filePicker';
import { createPythonEditor, ITextEditor } from './mainPyEditor';
// -- try in kernel (kernel helper) --
import { tryInKernelSection } from './tryInKernel';
// -- end try in kernel --

/** What a step view is given. */
export interface IStepContext {
  model: WizardModel;
  services: IWizardServices;
  trans: TranslationBundle;
  /** JupyterLab's editors (main.py on the review is edited in one); a textarea without. */
  editorServices?: IEditorServices | null;
}

/** The view of one step. */
export interface IStepView {
  readonly node: HTMLElement;
  /** Show a server error that belongs to this step (e.g. a file that vanished). */
  showError?(message: string): void;
  dispose?(): void;
}

/** A labelled field with its hint and the slot where its error goes. */
export function field(
  id: string,
  label: string,
  control: HTMLElement,
  hint?: string
): HTMLElement {
  control.id = `hub-api-${id}`;
  control.setAttribute(
    'aria-describedby',
    `hub-api-${id}-error hub-api-${id}-hint`
  );
  return h(
    'div',
    { class: 'jp-HubApi-field', attrs: { 'data-field': id } },
    h('label', { text: label, attrs: { for: `hub-api-${id}` } }),
    control,
    hint
      ? h('div', {
          class: 'jp-HubApi-hint',
          text: hint,
          attrs: { id: `hub-api-${id}-hint` }
        })
      : null,
    h('div', {
      class: 'jp-HubApi-fieldError',
      attrs: {
        id: `hub-api-${id}-error`,
        role: 'alert',
        'data-testid': `${id}-error`
      }
    })
  );
}

/** The API's name and the folder it is created in. */
export function nameStep({ model, services, trans }: IStepContext): IStepView {
  const name = h('input', {
    class: 'jp-mod-styled',
    attrs: {
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      'data-testid': 'wizard-name',
      maxlength: '80'
    },
    on: {
      input: (e: Event) => (model.name = (e.target as HTMLInputElement).value)
    }
  });
  name.value = model.name;
  const parent = h('input', {
    class: 'jp-mod-styled',
    attrs: {
      type: 'text',
      'data-testid': 'wizard-parent',
      placeholder: trans.__('(server root)')
    },
    on: {
      change: (e: Event) => {
        model.parent = (e.target as HTMLInputElement).value;
        void model.loadExisting(services);
      }
    }
  });
  parent.value = model.parent;
  return {
    node: h(
      'div',
      {},
      field(
        'name',
        trans.__('API name'),
        name,
        trans.__(
          'Lower-case letters, digits and "-", 1–63 characters, starting with a letter. It becomes the last part of the URL.'
        )
      ),
      field(
        'parent',
        trans.__('Create in folder'),
        parent,
        trans.__('Relative to the server root.')
      )
    )
  };
}

/**
 * The model: the files or folders to copy into model/, picked in a folder tree (the only model
 * file of the folder is picked already), and the framework (the template `hub init` starts
 * from), which follows the picked file's kind until the user chooses one.
 */
export function modelStep({ model, services, trans }: IStepContext): IStepView {
  const first = [...model.files.keys()][0];
  const folder = first ? first.split('/').slice(0, -1).join('/') : model.parent;
  const picker = new FilePicker(model, services, trans, folder);
  const select = h('select', {
    class: 'jp-mod-styled jp-HubApi-templateSelect',
    attrs: { 'data-testid': 'wizard-template' },
    on: {
      change: (e: Event) =>
        (model.template = (e.target as HTMLSelectElement).value)
    }
  });
  const guessed = h('div', {
    class: 'jp-HubApi-hint',
    attrs: { 'data-testid': 'template-hint' }
  });
  const render = () => {
    const choices = model.templateChoices;
    if (
      select.options.length !== choices.length ||
      [...select.options].some((o, i) => o.value !== choices[i])
    ) {
      select.replaceChildren(
        ...choices.map(t =>
          h('option', { text: TEMPLATE_LABELS[t] ?? t, attrs: { value: t } })
        )
      );
    }
    select.value = model.template;
    const mlflow = model.mlflowModel;
    guessed.textContent =
      model.template === MLFLOW && mlflow
        ? trans.__(
            '%1 was saved by MLflow %2 (flavors: %3): main.py loads it as its MLmodel says, with the requirements MLflow recorded.',
            basename(mlflow.path),
            mlflow.mlflow?.mlflow_version ?? '',
            (mlflow.mlflow?.flavors ?? []).join(', ')
          )
        : trans.__(
            "The template of src/main.py; it follows the picked model file's kind until you choose one."
          );
  };
  model.changed.connect(render);
  render();
  const node = h(
    'div',
    {},
    h(
      'div',
      { attrs: { 'data-field': 'files' } },
      h('p', {
        class: 'jp-HubApi-hint',
        text: trans.__(
          'Pick the files or folders to copy into model/ (weights, tokenizers, pickles, an MLflow model folder). They are stored by content and never go into the image.'
        )
      }),
      picker.node
    ),
    field('template', trans.__('Framework of the model'), select),
    guessed
  );
  return {
    node,
    showError: message => picker.showError(message),
    dispose: () => {
      model.changed.disconnect(render);
      picker.dispose();
    }
  };
}

/**
 * The text of src/requirements.txt, on the review: proposed pinned to the versions the
 * kernel has installed (or MLflow's recorded ones), each line with where it came from;
 * editable, with a way back to the proposal.
 */
export function requirementsSection({ model, trans }: IStepContext): IStepView {
  const area = h('textarea', {
    class: 'jp-mod-styled jp-HubApi-requirements',
    attrs: {
      rows: '6',
      spellcheck: 'false',
      'data-testid': 'wizard-requirements'
    }
  });
  const origins = h('ul', {
    class: 'jp-HubApi-origins',
    attrs: { 'data-testid': 'requirement-origins' }
  });
  const source = h('p', {
    class: 'jp-HubApi-hint',
    attrs: { 'data-testid': 'requirements-source' }
  });
  const render = () => {
    if (area.value !== model.requirements) {
      area.value = model.requirements;
    }
    const known = model.requirementOrigins;
    const lines = model.requirements
      .split('\n')
      .map(l => l.trim())
      .filter(l => l && !l.startsWith('#'));
    const items = lines.map(line =>
      h(
        'li',
        {},
        h('code', { text: line }),
        ' ',
        h('span', {
          class: 'jp-HubApi-hint',
          text: known[line] ?? trans.__('written by you')
        })
      )
    );
    for (const [module, why] of Object.entries(model.unresolved)) {
      items.push(
        h(
          'li',
          { class: 'jp-HubApi-unresolved' },
          h('code', { text: module }),
          ' ',
          h('span', {
            class: 'jp-HubApi-hint',
            text: trans.__('not pinned: %1', why)
          })
        )
      );
    }
    origins.replaceChildren(...items);
    const kernel = model.kernel;
    source.textContent =
      model.template === MLFLOW
        ? trans.__(
            'The requirements MLflow recorded when it saved the model (MLflow itself is not needed to load it, or only mlflow-skinny).'
          )
        : kernel
          ? trans.__(
              'Pinned to the versions installed in the kernel %1 (%2, Python %3), %4.',
              kernel.display_name,
              kernel.python,
              kernel.python_version ?? '?',
              kernel.source === 'notebook'
                ? trans.__("the notebook's kernel")
                : trans.__('the default kernel')
            )
          : (model.kernelError ??
            trans.__("The template's requirements, not pinned."));
  };
  area.addEventListener('input', () => {
    model.requirements = area.value;
  });
  const reset = button(trans.__('Reset to the proposal'), () => {
    model.resetRequirements();
  });
  model.changed.connect(render);
  render();
  const node = h(
    'div',
    { class: 'jp-HubApi-requirementsSection' },
    field(
      'requirements',
      trans.__('src/requirements.txt'),
      area,
      trans.__(
        "One package per line, as pip reads them. hub build installs them into the API's own environment."
      )
    ),
    source,
    origins,
    reset
  );
  return { node, dispose: () => model.changed.disconnect(render) };
}

/**
 * src/main.py on the review, in JupyterLab's code editor: the template's text (or the MLflow
 * model's) until the user edits it; Create writes the edited text, "Try in kernel" runs it, and
 * "Reset to the template" puts the template's back.
 */
export function mainPySection({
  model,
  trans,
  editorServices
}: IStepContext): IStepView {
  const template = TEMPLATE_LABELS[model.template] ?? model.template;
  const hintId = 'hub-api-main-py-hint';
  const hint = h('div', {
    class: 'jp-HubApi-hint',
    attrs: { id: hintId }
  });
  const slot = h('div', { class: 'jp-HubApi-mainPySlot' });
  const reset = button(trans.__('Reset to the template'), () =>
    model.resetMainPy()
  );
  reset.dataset.testid = 'main-py-reset';
  let editor: ITextEditor | null = null;
  const render = () => {
    const text = model.mainPy;
    if (text === null) {
      hint.textContent = trans.__(
        "The %1 template's main.py; it opens in the editor once the project is created.",
        template
      );
      reset.style.display = 'none';
      return;
    }
    if (!editor) {
      editor = createPythonEditor(
        editorServices,
        text,
        trans.__('src/main.py'),
        `${hintId} hub-api-main_py-error`
      );
      editor.onChange(value => (model.mainPy = value));
      slot.replaceChildren(editor.node);
    } else if (editor.getValue() !== text) {
      editor.setValue(text);
    }
    hint.textContent = model.mainPyEdited
      ? trans.__(
          'Edited: Create writes this text and Try in kernel runs it. Escape then Tab leaves the editor.'
        )
      : trans.__(
          "The %1 template's main.py: edit it here, or later in the project. Escape then Tab leaves the editor.",
          template
        );
    reset.style.display = '';
    reset.disabled = !model.mainPyEdited;
  };
  model.changed.connect(render);
  render();
  return {
    node: h(
      'div',
      { class: 'jp-HubApi-mainPySection', attrs: { 'data-field': 'main_py' } },
      slot,
      hint,
      h('div', {
        class: 'jp-HubApi-fieldError',
        attrs: {
          id: 'hub-api-main_py-error',
          role: 'alert',
          'data-testid': 'main_py-error'
        }
      }),
      reset
    ),
    dispose: () => {
      model.changed.disconnect(render);
      editor?.dispose();
    }
  };
}

/** What Create will do: the choices, the files it writes, and main.py. */
export function reviewStep(context: IStepContext): IStepView {
  const { model, trans } = context;
  const template = TEMPLATE_LABELS[model.template] ?? model.template;
  const requirements = requirementsSection(context);
  const rows: [string, string][] = [
    [trans.__('Name'), model.name],
    [trans.__('Folder'), model.projectPath],
    [trans.__('Framework'), template],
    [
      trans.__('Model files'),
      model.files.size
        ? trans.__(
            '%1 (%2)',
            [...model.files.keys()].map(basename).join(', '),
            formatBytes(model.totalSize)
          )
        : trans.__('none')
    ]
  ];
  const endpoint = model.endpoint;
  if (endpoint) {
    rows.push([trans.__('Endpoint'), endpoint]);
  }
  const main = mainPySection(context);
  const hubUser = PageConfig.getOption('hubUser');
  return {
    dispose: () => {
      requirements.dispose?.();
      main.dispose?.();
    },
    node: h(
      'div',
      { attrs: { 'data-field': 'review' } },
      h(
        'table',
        { class: 'jp-HubApi-summary' },
        h(
          'tbody',
          {},
          ...rows.map(([k, v]) =>
            h(
              'tr',
              {},
              h('th', { text: k, attrs: { scope: 'row' } }),
              h('td', { text: v })
            )
          )
        )
      ),
      model.account
        ? h('p', {
            class: 'jp-HubApi-hint',
            attrs: { 'data-testid': 'user-hint' },
            text: hubUser
              ? trans.__(
                  'Your user name on this platform is your JupyterHub user name, %1: it is part of the endpoint.',
                  model.account.user
                )
              : trans.__(
                  'Your user name on this platform is the OS user %1 (the user JupyterLab runs as): it is part of the endpoint.',
                  model.account.user
                )
          })
        : null,
      h('h2', { text: trans.__('Requirements') }),
      requirements.node,
      h('h2', { text: trans.__('Files that will be written') }),
      h(
        'ul',
        {
          class: 'jp-HubApi-plan',
          attrs: { 'data-testid': 'planned-files' }
        },
        ...model.plannedFiles().map(f =>
          h(
            'li',
            {},
            h('code', {
              text: model.parent ? f.slice(model.parent.length + 1) : f
            })
          )
        )
      ),
      h('h2', {}, h('code', { text: 'src/main.py' })),
      main.node,
      // -- try in kernel (kernel helper): run main.py on the chosen model files --
      tryInKernelSection(model, trans)
      // -- end try in kernel --
    )
  };
}

/** The view of each step. */
export const STEP_VIEWS: Record<
  WizardStep,
  (context: IStepContext) => IStepView
> = {
  name: nameStep,
  model: modelStep,
  review: reviewStep
};
