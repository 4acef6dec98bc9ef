/**
 * One small view per step of the wizard, over `WizardModel`: each makes its node, writes what
 * the user does into the model, and is disposed when the wizard leaves the step. The wizard
 * (`wizard.ts`) shows the current one and the errors at its fields (`[data-field]`).
 */
import { PageConfig } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  basename,
  IWizardServices,
  TEMPLATE_LABELS,
  TEMPLATE_NAMES,
  WizardModel,
  WizardStep
} from '../models/wizard';
import { button, formatBytes, h } from './dom';
import { FilePicker } from './filePicker';

/** What a step view is given. */
export interface IStepContext {
  model: WizardModel;
  services: IWizardServices;
  trans: TranslationBundle;
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

/** The framework of the model (the template `hub init` starts from). */
export function templateStep({ model, trans }: IStepContext): IStepView {
  const group = h('div', {
    class: 'jp-HubApi-templates',
    attrs: { role: 'radiogroup', 'aria-label': trans.__('Template') }
  });
  for (const t of TEMPLATE_NAMES) {
    const radio = h('input', {
      attrs: {
        type: 'radio',
        name: 'hub-api-template',
        value: t,
        'data-testid': `template-${t}`
      },
      on: { change: () => (model.template = t) }
    });
    radio.checked = model.template === t;
    group.append(
      h(
        'label',
        { class: 'jp-HubApi-template' },
        radio,
        h('span', { text: TEMPLATE_LABELS[t] ?? t })
      )
    );
  }
  return {
    node: field('template', trans.__('Framework of the model'), group)
  };
}

/** The model files to copy into model/, picked in a folder tree. */
export function filesStep({ model, services, trans }: IStepContext): IStepView {
  const first = [...model.files.keys()][0];
  const folder = first ? first.split('/').slice(0, -1).join('/') : model.parent;
  const picker = new FilePicker(model, services, trans, folder);
  const node = h(
    'div',
    { attrs: { 'data-field': 'files' } },
    h('p', {
      class: 'jp-HubApi-hint',
      text: trans.__(
        'Pick the files or folders to copy into model/ (weights, tokenizers, pickles). They are stored by content and never go into the image.'
      )
    })
  );
  node.appendChild(picker.node);
  return {
    node,
    showError: message => picker.showError(message),
    dispose: () => picker.dispose()
  };
}

/** The text of src/requirements.txt. */
export function requirementsStep({ model, trans }: IStepContext): IStepView {
  const area = h('textarea', {
    class: 'jp-mod-styled jp-HubApi-requirements',
    attrs: {
      rows: '10',
      spellcheck: 'false',
      'data-testid': 'wizard-requirements'
    },
    on: {
      input: (e: Event) =>
        (model.requirements = (e.target as HTMLTextAreaElement).value)
    }
  });
  area.value = model.requirements;
  const reset = button(trans.__('Reset to the template'), () => {
    model.resetRequirements();
    area.value = model.requirements;
  });
  return {
    node: h(
      'div',
      {},
      field(
        'requirements',
        trans.__('src/requirements.txt'),
        area,
        trans.__(
          "One package per line, as pip reads them. hub build installs them into the API's own environment."
        )
      ),
      reset
    )
  };
}

/** What Create will do: the choices, the files it writes, and main.py. */
export function reviewStep({ model, trans }: IStepContext): IStepView {
  const template = TEMPLATE_LABELS[model.template] ?? model.template;
  const rows: [string, string][] = [
    [trans.__('Name'), model.name],
    [trans.__('Folder'), model.projectPath],
    [trans.__('Template'), template],
    [
      trans.__('Model files'),
      model.files.size
        ? trans.__(
            '%1 (%2)',
            [...model.files.keys()].map(basename).join(', '),
            formatBytes(model.totalSize)
          )
        : trans.__('none')
    ],
    [
      trans.__('Requirements'),
      model.requirements
        .split('\n')
        .filter(l => l.trim() && !l.trim().startsWith('#'))
        .join(', ') || trans.__('none')
    ]
  ];
  const endpoint = model.endpoint;
  if (endpoint) {
    rows.push([trans.__('Endpoint'), endpoint]);
  }
  const main = model.mainPy;
  const hubUser = PageConfig.getOption('hubUser');
  return {
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
      main
        ? h('pre', {
            class: 'jp-HubApi-code',
            text: main,
            attrs: { 'data-testid': 'main-py', tabindex: '0' }
          })
        : h('p', {
            class: 'jp-HubApi-hint',
            text: trans.__(
              "The %1 template's main.py; it opens in the editor once the project is created.",
              template
            )
          })
    )
  };
}

/** The view of each step. */
export const STEP_VIEWS: Record<
  WizardStep,
  (context: IStepContext) => IStepView
> = {
  name: nameStep,
  template: templateStep,
  files: filesStep,
  requirements: requirementsStep,
  review: reviewStep
};
