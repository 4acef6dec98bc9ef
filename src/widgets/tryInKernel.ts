/**
 * Try in kernel: run the project's handler in a Python kernel on a JSON body and show what it
 * answered (or its traceback), what it printed and how long it took, before any build. Used by
 * the wizard's Review step (`tryInKernelSection`) and by `src/main.py`'s editor (the panel of
 * `plugins/tryInKernel.ts`). The kernel runs `jupyter_hub_api/notebook/try_in_kernel.py`.
 */
import { ServiceManager, Session } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { WizardModel } from '../models/wizard';
import {
  bodyProblem,
  exampleInput,
  headline,
  ITryRequest,
  ITryResult,
  kernelCode,
  kernelErrorSentence,
  prettyOutput,
  readResult,
  sessionDir,
  sessionPath,
  TRY_SESSION_TYPE,
  TRY_VERSION
} from '../models/tryInKernel';
import { button, h } from './dom';

/** The service manager, set by the plugin (the wizard's section needs it). */
let services: ServiceManager.IManager | null = null;

export function setTryServices(manager: ServiceManager.IManager): void {
  services = manager;
}

/** What is tried: the project, how to get main.py's text now, how to describe it. */
export interface ITryTarget {
  /** The project folder, server-relative (for the wizard: the one it will create). */
  project: string;
  /** The text of main.py now (the editor's, unsaved edits too), or null when unknown. */
  source(): string | null | Promise<string | null>;
  /** The rest of the request: an existing project's folder, or the wizard's choices. */
  describe(): Pick<
    ITryRequest,
    'project' | 'name' | 'template' | 'model_files'
  >;
  /** The body the editor starts with. */
  initialBody: string;
}

/** A problem a run ran into before any result: one sentence. */
class TryProblem extends Error {}

/**
 * The kernels of Try in kernel, one per project, through JupyterLab's session manager (so
 * they are listed in the Running panel and can be shut down there).
 */
export class TryKernels {
  constructor(readonly manager: ServiceManager.IManager) {}

  /** The project's session: the running one, else a new one with the right kernelspec. */
  async session(project: string): Promise<Session.ISessionConnection> {
    const path = sessionPath(project);
    const known = this._sessions.get(path);
    if (known && !known.isDisposed) {
      if (known.kernel && known.kernel.status !== 'dead') {
        return known;
      }
      await known.changeKernel({ name: await this._kernelName(project) });
      return known;
    }
    const model = await this.manager.sessions.findByPath(path);
    let session: Session.ISessionConnection;
    if (model) {
      session = this.manager.sessions.connectTo({ model });
    } else {
      const name = await this._kernelName(project);
      try {
        session = await this.manager.sessions.startNew({
          path,
          type: TRY_SESSION_TYPE,
          name: `Try in kernel: ${project.split('/').pop() || project}`,
          kernel: { name }
        });
      } catch (error) {
        throw new TryProblem(
          `The kernel "${name}" could not be started: ${(error as Error).message}`
        );
      }
    }
    this._sessions.set(path, session);
    session.disposed.connect(() => this._sessions.delete(path));
    return session;
  }

  /** The kernelspec: a notebook's of the project (or its folder) if one runs, else the default. */
  private async _kernelName(project: string): Promise<string> {
    const specs = this.manager.kernelspecs;
    await specs.ready;
    const known = specs.specs;
    if (!known || Object.keys(known.kernelspecs).length === 0) {
      throw new TryProblem(
        'JupyterLab has no kernel to run the handler in (no kernelspec); install one in your environment, e.g. pip install ipykernel, and reload the page.'
      );
    }
    const parent = sessionDir(project);
    for (const model of this.manager.sessions.running()) {
      const name = model.kernel?.name;
      const inProject =
        model.path.startsWith(project + '/') ||
        sessionDir(model.path) === parent;
      if (
        model.type === 'notebook' &&
        name &&
        known.kernelspecs[name] &&
        inProject
      ) {
        return name;
      }
    }
    return known.default in known.kernelspecs
      ? known.default
      : Object.keys(known.kernelspecs)[0];
  }

  private _sessions = new Map<string, Session.ISessionConnection>();
}

let sharedKernels: TryKernels | null = null;

function kernels(): TryKernels {
  if (!services) {
    throw new TryProblem('Try in kernel is not available in this page.');
  }
  if (!sharedKernels || sharedKernels.manager !== services) {
    sharedKernels = new TryKernels(services);
  }
  return sharedKernels;
}

/** The body editor, the run button, the kernel's state and the result. */
export class TryInKernelView {
  readonly node: HTMLElement;

  constructor(
    readonly target: ITryTarget,
    readonly trans: TranslationBundle
  ) {
    this._body = h('textarea', {
      class: 'jp-mod-styled jp-HubApi-tryBody',
      attrs: {
        rows: '3',
        spellcheck: 'false',
        'aria-label': trans.__('JSON body to try'),
        'data-testid': 'try-body'
      },
      on: {
        keydown: (event: KeyboardEvent) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            void this.run();
          }
        },
        input: () => this._showBodyError(null)
      }
    });
    this._body.value = target.initialBody;
    this._runButton = button(trans.__('Run'), () => void this.run(), {
      accept: true,
      testid: 'try-run',
      title: trans.__('Run the handler in the kernel on this body (Ctrl+Enter)')
    });
    this._stopButton = button(
      trans.__('Interrupt'),
      () => void this._session?.kernel?.interrupt(),
      { testid: 'try-interrupt' }
    );
    this._stopButton.disabled = true;
    this._restartButton = button(
      trans.__('Restart kernel'),
      () => void this._restart(),
      { testid: 'try-restart' }
    );
    this._kernelState = h('span', {
      class: 'jp-HubApi-hint',
      text: trans.__('Kernel: not started'),
      attrs: { 'data-testid': 'try-kernel' }
    });
    this._bodyError = h('div', {
      class: 'jp-HubApi-fieldError',
      attrs: { role: 'alert', 'data-testid': 'try-body-error' }
    });
    this._status = h('div', {
      class: 'jp-HubApi-tryStatus',
      attrs: { role: 'status', 'data-testid': 'try-status' }
    });
    this._result = h('div', { class: 'jp-HubApi-tryResult' });
    this.node = h(
      'div',
      { class: 'jp-HubApi-try', attrs: { 'data-testid': 'try-in-kernel' } },
      h('label', {
        text: trans.__('Body (JSON)'),
        class: 'jp-HubApi-tryLabel'
      }),
      this._body,
      this._bodyError,
      h(
        'div',
        { class: 'jp-HubApi-tryBar' },
        this._runButton,
        this._stopButton,
        this._restartButton,
        this._kernelState
      ),
      this._status,
      this._result
    );
  }

  /** Run the handler once on the body. */
  async run(): Promise<ITryResult | null> {
    if (this._running) {
      return null;
    }
    const body = this._body.value;
    const problem = bodyProblem(body);
    if (problem) {
      this._showBodyError(problem);
      this._body.focus();
      return null;
    }
    this._running = true;
    this._runButton.disabled = true;
    this._setStatus(this.trans.__('Running in the kernel…'), 'busy');
    this._result.replaceChildren();
    try {
      const source = await this.target.source();
      if (source === null) {
        throw new TryProblem(
          "main.py's text is not known yet; wait for the template to load, or open src/main.py."
        );
      }
      const session = await this._connect();
      const kernel = session.kernel;
      if (!kernel) {
        throw new TryProblem(
          'The session has no kernel; restart the kernel and run again.'
        );
      }
      const dir = sessionDir(session.path);
      const request: ITryRequest = {
        ...this.target.describe(),
        source,
        body,
        session_dir: dir,
        version: TRY_VERSION
      };
      let result: ITryResult | null = null;
      let failure: string | null = null;
      const future = kernel.requestExecute({
        code: kernelCode(request),
        silent: false,
        store_history: false,
        allow_stdin: false,
        stop_on_error: true
      });
      this._stopButton.disabled = false;
      future.onIOPub = msg => {
        const type = msg.header.msg_type;
        if (type === 'display_data' || type === 'execute_result') {
          result =
            readResult((msg.content as any).data as Record<string, unknown>) ??
            result;
        } else if (type === 'error') {
          const content = msg.content as any;
          failure = kernelErrorSentence(
            content.ename,
            content.evalue,
            kernel.name
          );
        }
      };
      try {
        await future.done;
      } catch {
        const status = session.kernel?.status ?? 'dead';
        throw new TryProblem(
          status === 'dead'
            ? 'The kernel died while the handler ran (for example it ran out of memory or crashed in native code); restart the kernel and run again.'
            : 'The kernel restarted while the handler ran; nothing of that run is kept: run again.'
        );
      }
      if (failure) {
        throw new TryProblem(failure);
      }
      if (!result) {
        throw new TryProblem(
          "The kernel answered without a result; check that its jupyter-hub-api is the server's version."
        );
      }
      this._render(result);
      return result;
    } catch (error) {
      const message =
        error instanceof TryProblem
          ? error.message
          : this.trans.__('Try in kernel failed: %1', String(error));
      this._setStatus(message, 'error');
      return null;
    } finally {
      this._running = false;
      this._runButton.disabled = false;
      this._stopButton.disabled = true;
    }
  }

  dispose(): void {
    this._session?.kernelChanged.disconnect(this._watchKernel, this);
    this._session?.statusChanged.disconnect(this._showKernel, this);
    this._session = null;
  }

  private async _connect(): Promise<Session.ISessionConnection> {
    const session = await kernels().session(this.target.project);
    if (session !== this._session) {
      this._session?.statusChanged.disconnect(this._showKernel, this);
      this._session?.kernelChanged.disconnect(this._watchKernel, this);
      this._session = session;
      session.statusChanged.connect(this._showKernel, this);
      session.kernelChanged.connect(this._watchKernel, this);
    }
    this._showKernel();
    return session;
  }

  private async _restart(): Promise<void> {
    try {
      const session = await this._connect();
      await session.kernel?.restart();
    } catch (error) {
      this._setStatus(
        error instanceof TryProblem ? error.message : String(error),
        'error'
      );
    }
  }

  private _watchKernel(): void {
    this._showKernel();
  }

  private _showKernel(): void {
    const kernel = this._session?.kernel;
    const spec = kernel?.name ?? '';
    const status = kernel?.status ?? 'unknown';
    this._kernelState.textContent = this.trans.__(
      'Kernel %1: %2',
      spec,
      status
    );
    this._kernelState.dataset.status = status;
  }

  private _showBodyError(message: string | null): void {
    this._bodyError.textContent = message ?? '';
    if (message) {
      this._body.setAttribute('aria-invalid', 'true');
    } else {
      this._body.removeAttribute('aria-invalid');
    }
  }

  private _setStatus(text: string, kind: 'busy' | 'ok' | 'error'): void {
    this._status.textContent = text;
    this._status.dataset.kind = kind;
  }

  private _render(result: ITryResult): void {
    const trans = this.trans;
    this._setStatus(headline(result), result.status === 'ok' ? 'ok' : 'error');
    const parts: HTMLElement[] = [];
    if (result.status === 'ok' || result.output !== undefined) {
      parts.push(
        h('h3', { text: trans.__('Output') }),
        h('pre', {
          class: 'jp-HubApi-code',
          text: prettyOutput(result),
          attrs: { 'data-testid': 'try-output', tabindex: '0' }
        })
      );
    }
    if (result.traceback) {
      parts.push(
        h('h3', { text: trans.__('Traceback') }),
        h('pre', {
          class: 'jp-HubApi-code jp-HubApi-tryTraceback',
          text: result.traceback,
          attrs: { 'data-testid': 'try-traceback', tabindex: '0' }
        })
      );
    }
    const printed = result.stdout + result.stderr;
    parts.push(
      h('h3', { text: trans.__('Printed') }),
      printed
        ? h('pre', {
            class: 'jp-HubApi-code',
            text: printed,
            attrs: { 'data-testid': 'try-printed', tabindex: '0' }
          })
        : h('p', { class: 'jp-HubApi-hint', text: trans.__('Nothing.') })
    );
    const style =
      result.handler_style === 'event'
        ? 'handler(event, context)'
        : result.handler_style === 'batch'
          ? '@hub_handler(batch=True)'
          : result.handler_style
            ? '@hub_handler'
            : null;
    parts.push(
      h('p', {
        class: 'jp-HubApi-hint',
        attrs: { 'data-testid': 'try-where' },
        text: [
          style ? trans.__('Handler: %1', style) : '',
          result.model_dir ? `MODEL_DIR=${result.model_dir}` : '',
          trans.__('Python: %1', result.python)
        ]
          .filter(Boolean)
          .join(' · ')
      })
    );
    this._result.replaceChildren(...parts);
  }

  private _body: HTMLTextAreaElement;
  private _bodyError: HTMLElement;
  private _runButton: HTMLButtonElement;
  private _stopButton: HTMLButtonElement;
  private _restartButton: HTMLButtonElement;
  private _kernelState: HTMLElement;
  private _status: HTMLElement;
  private _result: HTMLElement;
  private _session: Session.ISessionConnection | null = null;
  private _running = false;
}

/** The main-area panel of one project (opened from main.py's editor). */
export class TryInKernelPanel extends Widget {
  constructor(
    readonly view: TryInKernelView,
    trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HubApi-tryPanel');
    this.node.append(
      h('h2', { text: trans.__('Try in kernel: %1', view.target.project) }),
      h('p', {
        class: 'jp-HubApi-hint',
        text: trans.__(
          "Runs src/main.py as the editor holds it (unsaved edits too) in a Python kernel, as a deployed worker would: MODEL_DIR is the project's model/ folder, src/ is the working directory and on sys.path. Each run imports main.py afresh."
        )
      }),
      view.node
    );
  }

  dispose(): void {
    this.view.dispose();
    super.dispose();
  }
}

/**
 * The wizard's Review step section: run the template's main.py on the chosen model files
 * (staged in a temporary folder by the runner) before anything is written. Null when the page
 * has no service manager (tests of the wizard alone).
 */
export function tryInKernelSection(
  model: WizardModel,
  trans: TranslationBundle
): HTMLElement | null {
  if (!services) {
    return null;
  }
  const view = new TryInKernelView(
    {
      project: model.projectPath,
      source: async () => {
        // The template's main.py comes with the server's template list: wait for it a while.
        for (
          let waited = 0;
          model.mainPy === null && waited < 120_000;
          waited += 250
        ) {
          await new Promise(resolve => setTimeout(resolve, 250));
        }
        return model.mainPy;
      },
      describe: () => ({
        project: '',
        name: model.name,
        template: model.template,
        model_files: [...model.files.keys()]
      }),
      initialBody: exampleInput(model.template)
    },
    trans
  );
  return h(
    'section',
    {
      class: 'jp-HubApi-trySection',
      attrs: { 'aria-labelledby': 'hub-api-try-heading' }
    },
    h('h2', {
      text: trans.__('Try in kernel'),
      attrs: { id: 'hub-api-try-heading' }
    }),
    h('p', {
      class: 'jp-HubApi-hint',
      text: trans.__(
        'Run main.py in a Python kernel with your model files, before anything is written or built.'
      )
    }),
    view.node
  );
}
