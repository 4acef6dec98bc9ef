/**
 * The "New Hub API" wizard: name, template, model files, requirements, review; then "Create"
 * or "Create and deploy". A view over `WizardModel`; the plugin does the creating.
 */
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { HubApiError } from '../request';
import { IFolderListing, IProject, ITemplate } from '../api/types';
import {
  basename,
  STEPS,
  TEMPLATE_LABELS,
  TEMPLATE_NAMES,
  WizardModel,
  WizardStep
} from '../models/wizard';
import { button, formatBytes, h } from './dom';
import { FilePicker } from './filePicker';

/** What the wizard asks of the server. */
export interface IWizardServices {
  listFolder(path: string): Promise<IFolderListing>;
  listProjects(): Promise<IProject[]>;
  templates(): Promise<ITemplate[]>;
}

/** Which field a server error belongs to, from its `reason`. */
export function fieldOfReason(reason: string): WizardStep {
  switch (reason) {
    case 'bad_name':
    case 'exists': // the server extension's own check, when model files are to be copied
    case 'project_exists': // hub init's, otherwise
      return 'name';
    case 'bad_template':
      return 'template';
    case 'bad_requirements':
      return 'requirements';
    case 'not_found':
    case 'not_a_folder':
    case 'too_large':
    case 'no_space':
      return 'files';
    default:
      return 'review';
  }
}

/** The wizard. `onSubmit(deploy)` creates the project; a thrown error is shown at its field. */
export class WizardWidget extends Widget {
  constructor(
    readonly model: WizardModel,
    private _services: IWizardServices,
    private _onSubmit: (deploy: boolean) => Promise<void>,
    options: { translator?: ITranslator; problem?: Promise<string | null> } = {}
  ) {
    super();
    this._trans = (options.translator ?? nullTranslator).load(
      'jupyter_hub_api'
    );
    const trans = this._trans;
    this.addClass('jp-HubApi-wizard');
    this.node.setAttribute('data-testid', 'hub-api-wizard');
    this._banner = h('div', {
      class: 'jp-HubApi-problem',
      attrs: { role: 'alert', 'data-testid': 'handshake-problem' }
    });
    this._banner.hidden = true;
    this._stepList = h('ol', {
      class: 'jp-HubApi-wizardSteps',
      attrs: { 'aria-label': trans.__('Steps') }
    });
    this._body = h('div', { class: 'jp-HubApi-wizardBody' });
    this._formError = h('div', {
      class: 'jp-HubApi-fieldError',
      attrs: { role: 'alert', 'data-testid': 'form-error' }
    });
    this._back = button(trans.__('Back'), () => this._go(-1), {
      testid: 'wizard-back'
    });
    this._next = button(trans.__('Next'), () => this._go(1), {
      accept: true,
      testid: 'wizard-next'
    });
    this._create = button(trans.__('Create'), () => void this._submit(false), {
      testid: 'wizard-create'
    });
    this._deploy = button(
      trans.__('Create and deploy'),
      () => void this._submit(true),
      {
        accept: true,
        testid: 'wizard-create-deploy'
      }
    );
    const footer = h(
      'div',
      { class: 'jp-HubApi-wizardFooter' },
      this._formError,
      h('span', { class: 'jp-HubApi-spacer' }),
      this._back,
      this._next,
      this._create,
      this._deploy
    );
    this.node.append(
      this._banner,
      h('h1', { text: trans.__('New Hub API') }),
      h('p', {
        class: 'jp-HubApi-hint',
        text: trans.__(
          'Turn a trained model into a live REST API in five steps.'
        )
      }),
      this._stepList,
      this._body,
      footer
    );
    // Enter moves on (not in a text area, where it is a new line).
    this.node.addEventListener('keydown', (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (
        event.key === 'Enter' &&
        target.tagName === 'INPUT' &&
        (target as HTMLInputElement).type !== 'checkbox'
      ) {
        event.preventDefault();
        if (this.model.step === 'review') {
          void this._submit(true);
        } else {
          this._go(1);
        }
      }
    });
    this.model.changed.connect(this._onModelChanged, this);
    void options.problem?.then(problem => {
      if (problem) {
        this._banner.textContent = problem;
        this._banner.hidden = false;
      }
    });
    void this._loadExisting();
    void this._services
      .templates()
      .then(templates => this.model.setTemplates(templates))
      .catch(() => {
        /* the built-in requirements stay; the review says main.py comes from the template */
      });
    this._renderStep();
  }

  /** Fetch the names already taken in the parent folder (and by projects anywhere). */
  private async _loadExisting(): Promise<void> {
    const names = new Set<string>();
    const [listing, projects] = await Promise.allSettled([
      this._services.listFolder(this.model.parent),
      this._services.listProjects()
    ]);
    if (listing.status === 'fulfilled') {
      listing.value.entries.forEach(e => names.add(e.name));
    }
    if (projects.status === 'fulfilled') {
      projects.value.forEach(p => names.add(p.name));
    }
    this.model.setExisting(names);
  }

  protected onActivateRequest(): void {
    this._focusFirst();
  }

  private _focusFirst(): void {
    const field = this._body.querySelector<HTMLElement>(
      'input, textarea, button'
    );
    field?.focus();
  }

  private _go(direction: number): void {
    this._formError.textContent = '';
    const moved = direction > 0 ? this.model.next() : this.model.back();
    if (!moved && direction > 0) {
      this._body.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    }
  }

  private _onModelChanged(): void {
    if (this.model.step !== this._shownStep) {
      this._renderStep();
      this._focusFirst();
    } else {
      this._renderErrors();
    }
    this._renderNav();
  }

  private _renderNav(): void {
    const trans = this._trans;
    const labels: Record<WizardStep, string> = {
      name: trans.__('Name'),
      template: trans.__('Template'),
      files: trans.__('Model files'),
      requirements: trans.__('Requirements'),
      review: trans.__('Review')
    };
    const current = this.model.stepIndex;
    this._stepList.replaceChildren(
      ...STEPS.map((step, i) =>
        h(
          'li',
          {
            class:
              i === current
                ? 'jp-mod-current'
                : i < current
                  ? 'jp-mod-done'
                  : ''
          },
          h('button', {
            class: 'jp-HubApi-stepButton',
            text: `${i + 1}. ${labels[step]}`,
            attrs: {
              type: 'button',
              'data-step': step,
              ...(i === current ? { 'aria-current': 'step' } : {})
            },
            on: { click: () => this.model.goTo(step) }
          })
        )
      )
    );
    const last = this.model.step === 'review';
    this._back.disabled = current === 0 || this._busy;
    // style.display, not `hidden`: the buttons' own CSS sets a display that wins over it.
    this._next.style.display = last ? 'none' : '';
    this._create.style.display = last ? '' : 'none';
    this._deploy.style.display = last ? '' : 'none';
    this._create.disabled = this._deploy.disabled = this._busy;
  }

  private _field(
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

  private _renderStep(): void {
    const trans = this._trans;
    const model = this.model;
    this._shownStep = model.step;
    this._picker?.dispose();
    this._picker = null;
    let content: HTMLElement;
    switch (model.step) {
      case 'name': {
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
            input: (e: Event) =>
              (model.name = (e.target as HTMLInputElement).value)
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
              void this._loadExisting();
            }
          }
        });
        parent.value = model.parent;
        content = h(
          'div',
          {},
          this._field(
            'name',
            trans.__('API name'),
            name,
            trans.__(
              'Lower-case letters, digits and "-", 1–63 characters, starting with a letter. It becomes the last part of the URL.'
            )
          ),
          this._field(
            'parent',
            trans.__('Create in folder'),
            parent,
            trans.__('Relative to the server root.')
          )
        );
        break;
      }
      case 'template': {
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
        content = this._field(
          'template',
          trans.__('Framework of the model'),
          group
        );
        break;
      }
      case 'files': {
        this._picker = new FilePicker(
          model,
          p => this._services.listFolder(p),
          trans,
          this._initialFolder()
        );
        content = h(
          'div',
          { attrs: { 'data-field': 'files' } },
          h('p', {
            class: 'jp-HubApi-hint',
            text: trans.__(
              'Pick the files or folders to copy into model/ (weights, tokenizers, pickles). They are stored by content and never go into the image.'
            )
          })
        );
        content.appendChild(this._picker.node);
        break;
      }
      case 'requirements': {
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
        content = h(
          'div',
          {},
          this._field(
            'requirements',
            trans.__('src/requirements.txt'),
            area,
            trans.__(
              "One package per line, as pip reads them. hub build installs them into the API's own environment."
            )
          ),
          reset
        );
        break;
      }
      case 'review':
      default: {
        const rows: [string, string][] = [
          [trans.__('Name'), model.name],
          [trans.__('Folder'), model.projectPath],
          [
            trans.__('Template'),
            TEMPLATE_LABELS[model.template] ?? model.template
          ],
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
        const main = model.mainPy;
        content = h(
          'div',
          { attrs: { 'data-field': 'review' } },
          h(
            'table',
            { class: 'jp-HubApi-summary' },
            ...rows.map(([k, v]) =>
              h('tr', {}, h('th', { text: k }), h('td', { text: v }))
            )
          ),
          h('h3', { text: trans.__('Files that will be written') }),
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
          h('h3', {}, h('code', { text: 'src/main.py' })),
          main
            ? h('pre', {
                class: 'jp-HubApi-code',
                text: main,
                attrs: { 'data-testid': 'main-py' }
              })
            : h('p', {
                class: 'jp-HubApi-hint',
                text: trans.__(
                  "The %1 template's main.py; it opens in the editor once the project is created.",
                  TEMPLATE_LABELS[model.template] ?? model.template
                )
              })
        );
      }
    }
    this._body.replaceChildren(content);
    this._renderErrors();
    this._renderNav();
  }

  private _initialFolder(): string {
    const first = [...this.model.files.keys()][0];
    return first ? first.split('/').slice(0, -1).join('/') : this.model.parent;
  }

  private _renderErrors(): void {
    const errors = this.model.errors();
    // Name errors show once the user typed (not on an empty, fresh field).
    if (this.model.step === 'name' && !this.model.nameTouched) {
      delete errors.name;
    }
    // A server error stays at its field while the field holds the value it was about.
    const serverErrors: Record<string, string> = {};
    for (const [field, error] of Object.entries(this._serverErrors)) {
      if (error.value === this._fieldValue(field)) {
        serverErrors[field] = error.message;
      }
    }
    for (const node of this._body.querySelectorAll<HTMLElement>(
      '[data-field]'
    )) {
      const field = node.dataset.field!;
      const message = errors[field] ?? serverErrors[field] ?? '';
      const slot = node.querySelector<HTMLElement>('.jp-HubApi-fieldError');
      if (slot) {
        slot.textContent = message;
      }
      node
        .querySelector('input, textarea')
        ?.setAttribute('aria-invalid', message ? 'true' : 'false');
    }
  }

  /** The value of a field, to tell whether a server error is still about it. */
  private _fieldValue(field: string): string {
    const model = this.model;
    switch (field) {
      case 'name':
        return `${model.parent}/${model.name}`;
      case 'template':
        return model.template;
      case 'requirements':
        return model.requirements;
      case 'files':
        return [...model.files.keys()].join('\n');
      default:
        return '';
    }
  }

  private async _submit(deploy: boolean): Promise<void> {
    const invalid = this.model.firstInvalidStep();
    if (invalid) {
      this.model.goTo(invalid);
      return;
    }
    this._busy = true;
    this._serverErrors = {};
    this._formError.textContent = this._trans.__('Creating…');
    this._renderNav();
    try {
      await this._onSubmit(deploy);
      this._formError.textContent = '';
    } catch (error) {
      const message = (error as Error).message;
      const reason = error instanceof HubApiError ? error.reason : '';
      const step = fieldOfReason(reason);
      this._formError.textContent = message;
      if (step !== 'review') {
        this._serverErrors = {
          [step]: { message, value: this._fieldValue(step) }
        };
        this.model.goTo(step);
        if (step === 'files') {
          this._picker?.showError(message);
        }
        this._renderErrors();
      }
    } finally {
      this._busy = false;
      this._renderNav();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    this._picker?.dispose();
    super.dispose();
  }

  private _trans: TranslationBundle;
  private _banner: HTMLDivElement;
  private _stepList: HTMLOListElement;
  private _body: HTMLDivElement;
  private _formError: HTMLDivElement;
  private _back: HTMLButtonElement;
  private _next: HTMLButtonElement;
  private _create: HTMLButtonElement;
  private _deploy: HTMLButtonElement;
  private _picker: FilePicker | null = null;
  private _shownStep: WizardStep | null = null;
  private _serverErrors: Record<string, { message: string; value: string }> =
    {};
  private _busy = false;
}
