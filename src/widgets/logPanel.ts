/**
 * The log panel of one job: its state, named steps with durations, a progress bar, the live
 * lines (`LogView`), search, copy, follow-tail, cancel and re-run.
 */
import { Clipboard, Notification } from '@jupyterlab/apputils';
import {
  nullTranslator,
  TranslationBundle,
  ITranslator
} from '@jupyterlab/translation';
import { PanelLayout, Widget } from '@lumino/widgets';

import { IJob, isFinal } from '../api/types';
import { JobLog } from '../models/jobLog';
import { formatSeconds } from '../models/logModel';
import { button, h } from './dom';
import { LogView } from './logView';

/** Sentences for job kinds and states. */
export function jobTitle(
  job: Pick<IJob, 'kind' | 'project'>,
  trans: TranslationBundle
): string {
  const project = job.project || trans.__('(server root)');
  switch (job.kind) {
    case 'build':
      return trans.__('Build %1', project);
    case 'deploy':
      return trans.__('Deploy %1', project);
    case 'build+deploy':
      return trans.__('Build & deploy %1', project);
    case 'model-files':
      return trans.__('Copy model files into %1', project);
    default:
      return project;
  }
}

/** Where the choice to show the lines' times is kept (this browser; log panels and Logs tabs). */
export const SHOW_TIMES_KEY = 'jupyter-hub-api:log-times';

/** Whether log lines show their time: yes, unless the user hid them. */
export function shownTimes(): boolean {
  try {
    return window.localStorage.getItem(SHOW_TIMES_KEY) !== 'hidden';
  } catch {
    return true; // storage refused (private mode): the default
  }
}

/** Remember whether log lines show their time. */
export function rememberShowTimes(show: boolean): void {
  try {
    window.localStorage.setItem(SHOW_TIMES_KEY, show ? 'shown' : 'hidden');
  } catch {
    // not kept: the choice lasts for this panel only
  }
}

/** The panel of one job. */
export class LogPanel extends Widget {
  constructor(
    readonly jobLog: JobLog,
    options: {
      translator?: ITranslator;
      follow?: boolean;
      /** Called with the new job when the user re-runs this one. */
      onRerun?: (job: IJob) => void;
    } = {}
  ) {
    super();
    this._trans = (options.translator ?? nullTranslator).load(
      'jupyter_hub_api'
    );
    this._onRerunJob = options.onRerun;
    const trans = this._trans;
    this.addClass('jp-HubApi-logPanel');
    this.node.dataset.jobId = jobLog.jobId;
    this.node.setAttribute('data-testid', 'hub-api-log-panel');

    this._state = h('span', {
      class: 'jp-HubApi-jobState',
      attrs: { 'data-testid': 'job-state' }
    });
    this._cancel = button(trans.__('Cancel'), () => void this._doCancel(), {
      warn: true,
      testid: 'job-cancel',
      title: trans.__('Stop the job (its whole process group)')
    });
    this._rerun = button(trans.__('Re-run'), () => void this._doRerun(), {
      testid: 'job-rerun',
      title: trans.__('Start the same job again')
    });
    const copy = button(trans.__('Copy'), () => this._doCopy(), {
      title: trans.__('Copy the whole log as text')
    });
    // Each line's time, shown unless the user hid them (the choice is remembered).
    this._timesBox = h('input', {
      attrs: { type: 'checkbox', 'data-testid': 'job-times' },
      on: {
        change: () => {
          this._view.showTimes = this._timesBox.checked;
          rememberShowTimes(this._timesBox.checked);
        }
      }
    });
    const times = h(
      'label',
      {
        class: 'jp-HubApi-follow',
        attrs: {
          title: trans.__(
            'Start each line with the time it arrived (hover it for the date); copied with the log when shown'
          )
        }
      },
      this._timesBox,
      trans.__('Times')
    );
    this._followBox = h('input', {
      attrs: { type: 'checkbox', 'data-testid': 'job-follow' },
      on: { change: () => (this._view.follow = this._followBox.checked) }
    });
    const follow = h(
      'label',
      {
        class: 'jp-HubApi-follow',
        attrs: { title: trans.__('Keep the newest line in sight') }
      },
      this._followBox,
      trans.__('Follow')
    );
    this._search = h('input', {
      class: 'jp-HubApi-search jp-mod-styled',
      attrs: {
        type: 'search',
        placeholder: trans.__('Search the log'),
        'aria-label': trans.__('Search the log'),
        'data-testid': 'job-search'
      },
      on: {
        // Debounced: a search scans every line, so not at every keystroke.
        input: () => {
          window.clearTimeout(this._searchTimer);
          this._searchTimer = window.setTimeout(() => {
            this._searchTimer = 0;
            this._runSearch();
          }, 150);
        },
        keydown: (e: KeyboardEvent) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            this._step(e.shiftKey ? -1 : 1);
          }
        }
      }
    });
    this._matchCount = h('span', { class: 'jp-HubApi-matchCount' });
    const header = h(
      'div',
      { class: 'jp-HubApi-logHeader' },
      this._state,
      h('span', { class: 'jp-HubApi-spacer' }),
      this._search,
      this._matchCount,
      times,
      follow,
      copy,
      this._rerun,
      this._cancel
    );
    this._steps = h('ol', {
      class: 'jp-HubApi-steps',
      attrs: { 'aria-label': trans.__('Steps') }
    });
    this._progress = h('div', {
      class: 'jp-HubApi-progress',
      attrs: {
        role: 'progressbar',
        'aria-valuemin': '0',
        'aria-valuemax': '100'
      }
    });
    this._progressBar = h('div', { class: 'jp-HubApi-progressBar' });
    this._progressLabel = h('span', { class: 'jp-HubApi-progressLabel' });
    this._progress.append(this._progressBar, this._progressLabel);

    const top = new Widget({
      node: h(
        'div',
        { class: 'jp-HubApi-logTop' },
        header,
        this._steps,
        this._progress
      )
    });
    this._view = new LogView(jobLog.model, {
      follow: options.follow ?? true,
      showTimes: shownTimes()
    });
    this._timesBox.checked = this._view.showTimes;
    this._followBox.checked = this._view.follow;
    this._view.followChanged.connect(
      (_, value) => (this._followBox.checked = value)
    );
    const layout = new PanelLayout();
    layout.addWidget(top);
    layout.addWidget(this._view);
    this.layout = layout;

    jobLog.model.stateChanged.connect(this._renderState, this);
    this._renderState();
    // Steps show a live duration while they run.
    this._timer = window.setInterval(() => {
      if (this.jobLog.isActive) {
        this._renderSteps();
      }
    }, 1000);
  }

  /** The lines view. */
  get view(): LogView {
    return this._view;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearInterval(this._timer);
    this.jobLog.dispose();
    super.dispose();
  }

  private _renderState(): void {
    const trans = this._trans;
    const job = this.jobLog.model.job;
    const state = job?.state ?? 'queued';
    const labels: Record<string, string> = {
      queued: trans.__('Queued'),
      running: trans.__('Running'),
      succeeded: trans.__('Succeeded'),
      failed: trans.__('Failed'),
      cancelling: trans.__('Cancelling…'),
      cancelled: trans.__('Cancelled'),
      interrupted: trans.__('Interrupted (the server restarted)')
    };
    this._state.textContent = labels[state] ?? state;
    this._state.dataset.state = state;
    this.node.dataset.state = state;
    const final = job !== null && isFinal(job.state);
    this._cancel.disabled = final || state === 'cancelling';
    this._rerun.disabled = !final || job?.kind === 'model-files';
    this._renderSteps();
    const progress = this.jobLog.model.progress;
    if (progress && !final) {
      this._progress.hidden = false;
      const total = progress.total ?? 0;
      const pct =
        total > 0 ? Math.min(100, (progress.done / total) * 100) : null;
      this._progressBar.style.width = pct === null ? '100%' : `${pct}%`;
      this._progress.classList.toggle('jp-mod-indeterminate', pct === null);
      if (pct !== null) {
        this._progress.setAttribute('aria-valuenow', String(Math.round(pct)));
      }
      this._progressLabel.textContent =
        pct === null
          ? `${progress.step}: ${progress.done}`
          : `${progress.step}: ${progress.done} / ${total} (${Math.round(pct)} %)`;
    } else {
      this._progress.hidden = true;
    }
  }

  /**
   * The step list: one item per step, each a button named by the step's label, state and
   * duration ("environment on the platform, done, 12 s"), so every item has its own name.
   * Items are updated in place (the durations tick every second), so focus stays put.
   */
  private _renderSteps(): void {
    const trans = this._trans;
    const now = Date.now() / 1000;
    const steps = this.jobLog.model.steps;
    const words: Record<string, string> = {
      done: trans.__('done'),
      failed: trans.__('failed'),
      stopped: trans.__('stopped'),
      started: trans.__('running')
    };
    while (this._steps.children.length > steps.length) {
      this._steps.lastElementChild!.remove();
    }
    steps.forEach((step, index) => {
      let duration = '';
      if (step.seconds !== null) {
        duration = formatSeconds(step.seconds);
      } else if (
        step.status === 'started' &&
        step.startedAt !== null &&
        this.jobLog.isActive
      ) {
        duration = formatSeconds(Math.max(0, now - step.startedAt));
      }
      // A step still open when the job ended was cut short (cancel, failure, restart).
      const cut = step.status === 'started' && !this.jobLog.isActive;
      const status = cut ? 'stopped' : step.status;
      const icon =
        status === 'done' ? '✔' : status === 'failed' ? '✘' : cut ? '■' : '⟳';
      let item = this._steps.children[index] as HTMLLIElement | undefined;
      if (!item) {
        const show = () =>
          this._view.scrollToLine(
            this.jobLog.model.steps[index].line - this.jobLog.model.dropped
          );
        item = h(
          'li',
          {},
          h(
            'button',
            {
              class: 'jp-HubApi-logStepButton',
              attrs: {
                type: 'button',
                title: trans.__('Show this step in the log')
              },
              on: { click: show }
            },
            h('span', {
              class: 'jp-HubApi-stepIcon',
              attrs: { 'aria-hidden': 'true' }
            }),
            h('span', { class: 'jp-HubApi-stepName' }),
            h('span', { class: 'jp-HubApi-stepTime' })
          )
        );
        this._steps.append(item);
      }
      item.className = `jp-HubApi-step jp-mod-${status}`;
      item.dataset.step = step.name;
      const btn = item.firstElementChild as HTMLButtonElement;
      const [iconNode, nameNode, timeNode] = Array.from(
        btn.children
      ) as HTMLElement[];
      iconNode.textContent = icon;
      nameNode.textContent = step.label;
      timeNode.textContent = duration;
      timeNode.hidden = !duration;
      btn.setAttribute(
        'aria-label',
        duration
          ? trans.__('%1, %2, %3', step.label, words[status], duration)
          : trans.__('%1, %2', step.label, words[status])
      );
    });
  }

  private _runSearch(): void {
    this._matches = this.jobLog.model.search(this._search.value);
    this._matchIndex = this._matches.length ? 0 : -1;
    this._showMatch();
  }

  private _step(direction: number): void {
    if (this._searchTimer) {
      // Enter before the debounce fired: search now.
      window.clearTimeout(this._searchTimer);
      this._searchTimer = 0;
      this._runSearch();
      return;
    }
    if (!this._matches.length) {
      this._runSearch();
      return;
    }
    const n = this._matches.length;
    this._matchIndex = (this._matchIndex + direction + n) % n;
    this._showMatch();
  }

  private _showMatch(): void {
    const trans = this._trans;
    const current =
      this._matchIndex >= 0 ? this._matches[this._matchIndex] : null;
    this._matchCount.textContent = this._search.value
      ? this._matches.length
        ? trans.__('%1 of %2', this._matchIndex + 1, this._matches.length)
        : trans.__('no match')
      : '';
    this._view.setHighlights(this._matches, current);
  }

  private _doCopy(): void {
    Clipboard.copyToSystem(this.jobLog.model.toText(this._view.showTimes));
    Notification.info(this._trans.__('The log was copied.'), {
      autoClose: 2000
    });
  }

  private async _doCancel(): Promise<void> {
    try {
      await this.jobLog.cancel();
    } catch (error) {
      Notification.error((error as Error).message);
    }
  }

  private async _doRerun(): Promise<void> {
    try {
      const job = await this.jobLog.rerun();
      this._onRerunJob?.(job);
    } catch (error) {
      Notification.error((error as Error).message);
    }
  }

  private _trans: TranslationBundle;
  private _onRerunJob?: (job: IJob) => void;
  private _state: HTMLSpanElement;
  private _cancel: HTMLButtonElement;
  private _rerun: HTMLButtonElement;
  private _followBox: HTMLInputElement;
  private _timesBox: HTMLInputElement;
  private _search: HTMLInputElement;
  private _matchCount: HTMLSpanElement;
  private _steps: HTMLOListElement;
  private _progress: HTMLDivElement;
  private _progressBar: HTMLDivElement;
  private _progressLabel: HTMLSpanElement;
  private _view: LogView;
  private _matches: number[] = [];
  private _matchIndex = -1;
  private _timer: number;
  private _searchTimer = 0;
}
