/**
 * The "New Hub API" wizard: name, model (the files and their framework), review (with the
 * requirements, pinned to the kernel's versions); then "Create" or "Create and deploy". A view over `WizardModel`: the steps' views are in `wizardSteps.ts`,
 * this widget shows the current one with the step list, the errors and the buttons; the plugin
 * does the creating.
 */
import { IEditorServices } from '@jupyterlab/codeeditor';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { HubApiError } from '../request';
import {
  FIELD_STEP,
  IWizardServices,
  STEPS,
  WizardField,
  WizardModel,
  WizardStep
} from '../models/wizard';
import { button, h } from './dom';
import { IStepView, STEP_VIEWS } from './wizardSteps';

/** Which field a server error belongs to, from its `reason` (null: the form as a whole). */
export function fieldOfReason(reason: string): WizardField | null {
  switch (reason) {
    case 'bad_name':
    case 'exists': // the server extension's own check, when model files are to be copied
    case 'project_exists': // hub init's, otherwise
      return 'name';
    case 'bad_template':
      return 'template';
    case 'bad_requirements':
      return 'requirements';
    case 'bad_main_py':
      return 'main_py';
    case 'not_found':
    case 'not_a_folder':
    case 'too_large':
    case 'no_space':
    case 'bad_mlflow_model':
      return 'files';
    default:
      return null;
  }
}

/** The wizard. `onSubmit(deploy)` creates the project; a thrown error is shown at its field. */
export class WizardWidget extends Widget {
  constructor(
    readonly model: WizardModel,
    private _services: IWizardServices,
    private _onSubmit: (deploy: boolean) => Promise<void>,
    options: {
      translator?: ITranslator;
      problem?: Promise<string | null>;
      /** JupyterLab's editors: main.py on the review is edited in one. */
      editorServices?: IEditorServices | null;
    } = {}
  ) {
    super();
    this._editorServices = options.editorServices ?? null;
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
    this._body = h('div', {
      class: 'jp-HubApi-wizardBody',
      attrs: { tabindex: '-1' }
    });
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
      // The primary buttons come first, on the left: JupyterLab's notifications pile up in
      // the bottom-right corner and would cover them there.
      this._deploy,
      this._next,
      this._create,
      this._back,
      this._formError
    );
    this.node.append(
      this._banner,
      h('h1', { text: trans.__('New Hub API') }),
      h('p', {
        class: 'jp-HubApi-hint',
        text: trans.__(
          'Turn a trained model into a live REST API in three steps.'
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
    void this.model.loadExisting(this._services);
    void this.model.loadTemplates(this._services);
    this._renderStep();
  }

  protected onActivateRequest(): void {
    this._focusFirst();
  }

  private _focusFirst(): void {
    // The first control of the step, else the step itself (Review has no field): focus
    // never drops to the page when the step changes.
    const field = this._body.querySelector<HTMLElement>(
      'input, textarea, button'
    );
    (field ?? this._body).focus();
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
      model: trans.__('Model'),
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

  private _renderStep(): void {
    this._shownStep = this.model.step;
    this._view?.dispose?.();
    this._view = STEP_VIEWS[this.model.step]({
      model: this.model,
      services: this._services,
      trans: this._trans,
      editorServices: this._editorServices
    });
    this._body.replaceChildren(this._view.node);
    this._renderErrors();
    this._renderNav();
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
        .querySelector('input, textarea, select')
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
      case 'main_py':
        return model.mainPy ?? '';
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
      const field = fieldOfReason(reason);
      this._formError.textContent = message;
      if (field) {
        this._serverErrors = {
          [field]: { message, value: this._fieldValue(field) }
        };
        this.model.goTo(FIELD_STEP[field]);
        if (field === 'files') {
          this._view?.showError?.(message);
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
    this._view?.dispose?.();
    super.dispose();
  }

  private _editorServices: IEditorServices | null;
  private _trans: TranslationBundle;
  private _banner: HTMLDivElement;
  private _stepList: HTMLOListElement;
  private _body: HTMLDivElement;
  private _formError: HTMLDivElement;
  private _back: HTMLButtonElement;
  private _next: HTMLButtonElement;
  private _create: HTMLButtonElement;
  private _deploy: HTMLButtonElement;
  private _view: IStepView | null = null;
  private _shownStep: WizardStep | null = null;
  private _serverErrors: Record<string, { message: string; value: string }> =
    {};
  private _busy = false;
}
