/**
 * A virtualised view of a `LogModel`: a scroll area as tall as all the lines, holding DOM rows
 * only for the lines in sight (plus a margin). New lines are rendered at most once per
 * animation frame, so 100,000 lines cost about as much as a screenful.
 */
import { Widget } from '@lumino/widgets';
import { ISignal, Signal } from '@lumino/signaling';

import { parseAnsi } from '../models/ansi';
import {
  CLOCK_BLANK,
  formatClock,
  formatDateTime,
  LogModel
} from '../models/logModel';

/** Height of one row in pixels; style/log.css uses the same value. */
export const LINE_HEIGHT = 18;

/** Rows rendered above and below the visible ones, so a short scroll shows no gap. */
const OVERSCAN = 30;

/** Schedules a render; tests pass a synchronous one. */
export type FrameScheduler = (callback: () => void) => void;

const defaultScheduler: FrameScheduler = callback => {
  if (typeof requestAnimationFrame === 'function') {
    requestAnimationFrame(() => callback());
  } else {
    setTimeout(callback, 16);
  }
};

/** The scrolling lines of a job's log. */
export class LogView extends Widget {
  constructor(
    readonly model: LogModel,
    options: {
      follow?: boolean;
      schedule?: FrameScheduler;
      /** Start each row with the line's time (HH:MM:SS, local; the full date in its title). */
      showTimes?: boolean;
    } = {}
  ) {
    super();
    this.addClass('jp-HubApi-logView');
    // jp-RenderedText: the theme's own ANSI colours apply to the rows, as in notebook outputs.
    this._viewport = document.createElement('div');
    this._viewport.className = 'jp-HubApi-logViewport jp-RenderedText';
    this._viewport.tabIndex = 0;
    this._viewport.setAttribute('role', 'log');
    this._viewport.setAttribute('aria-live', 'off');
    this._spacer = document.createElement('div');
    this._spacer.className = 'jp-HubApi-logSpacer';
    this._rows = document.createElement('div');
    this._rows.className = 'jp-HubApi-logRows';
    this._spacer.appendChild(this._rows);
    this._viewport.appendChild(this._spacer);
    this.node.appendChild(this._viewport);
    this._follow = options.follow ?? true;
    this._showTimes = options.showTimes ?? false;
    this.toggleClass('jp-mod-times', this._showTimes);
    this._schedule = options.schedule ?? defaultScheduler;
    this._viewport.addEventListener('scroll', this._onScroll);
    model.linesChanged.connect(this._requestRender, this);
  }

  /** Whether the view keeps the newest line in sight. */
  get follow(): boolean {
    return this._follow;
  }
  set follow(value: boolean) {
    if (value === this._follow) {
      return;
    }
    this._follow = value;
    this._followChanged.emit(value);
    if (value) {
      this._requestRender();
    }
  }

  /** Whether each row starts with the line's time. */
  get showTimes(): boolean {
    return this._showTimes;
  }
  set showTimes(value: boolean) {
    if (value !== this._showTimes) {
      this._showTimes = value;
      this.toggleClass('jp-mod-times', value);
      this._requestRender();
    }
  }

  /** Fired when following starts or stops (the user scrolled up, or back to the end). */
  get followChanged(): ISignal<this, boolean> {
    return this._followChanged;
  }

  /** Fired after each render with the number of lines rendered in total (for the benchmark). */
  get rendered(): ISignal<this, number> {
    return this._rendered;
  }

  /** Lines to mark as search matches, and the current one. */
  setHighlights(matches: readonly number[], current: number | null): void {
    this._matches = new Set(matches);
    this._current = current;
    if (current !== null) {
      this.scrollToLine(current);
    }
    this._requestRender();
  }

  /** Bring line `i` into view (stops following unless it is the last line). */
  scrollToLine(i: number): void {
    this.follow = i >= this.model.length - 1;
    const top = i * LINE_HEIGHT;
    const height = this._viewport.clientHeight || LINE_HEIGHT * 20;
    if (
      top < this._viewport.scrollTop ||
      top + LINE_HEIGHT > this._viewport.scrollTop + height
    ) {
      this._viewport.scrollTop = Math.max(0, top - height / 3);
    }
    this._requestRender();
  }

  /** Render now (normally done once per frame). */
  renderNow(): void {
    this._pending = false;
    const n = this.model.length;
    this._spacer.style.height = `${n * LINE_HEIGHT}px`;
    if (this._follow) {
      const v = this._viewport;
      const target = Math.max(0, v.scrollHeight - v.clientHeight);
      // Only a real move fires a scroll event; flagging a no-op would swallow the user's next one.
      if (Math.abs(v.scrollTop - target) > 1) {
        this._programmaticScroll = true;
        v.scrollTop = target;
      }
    }
    const height = this._viewport.clientHeight || LINE_HEIGHT * 40;
    // Following: the window ends at the last line, whatever the scroll position says yet.
    const top = this._follow
      ? Math.max(0, n * LINE_HEIGHT - height)
      : this._viewport.scrollTop;
    const first = Math.max(0, Math.floor(top / LINE_HEIGHT) - OVERSCAN);
    const last = Math.min(
      n,
      Math.ceil((top + height) / LINE_HEIGHT) + OVERSCAN
    );
    this._rows.style.transform = `translateY(${first * LINE_HEIGHT}px)`;
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      fragment.appendChild(this._renderLine(i));
    }
    this._rows.replaceChildren(fragment);
    this._renderedRange = [first, last];
    this._rendered.emit(n);
  }

  /** The range of lines that have DOM rows, [first, last). */
  get renderedRange(): [number, number] {
    return this._renderedRange;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._viewport.removeEventListener('scroll', this._onScroll);
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(): void {
    this._requestRender();
  }

  protected onResize(): void {
    this._requestRender();
  }

  private _renderLine(i: number): HTMLElement {
    const row = document.createElement('pre');
    row.className = `jp-HubApi-logLine jp-mod-${this.model.kind(i)}`;
    if (this._matches.has(i)) {
      row.classList.add('jp-mod-match');
    }
    if (i === this._current) {
      row.classList.add('jp-mod-current');
    }
    row.dataset.line = String(i);
    if (this._showTimes) {
      const time = this.model.time(i);
      const stamp = document.createElement('span');
      stamp.className = 'jp-HubApi-logTime';
      if (time === null) {
        stamp.textContent = `${CLOCK_BLANK} `;
      } else {
        stamp.textContent = `${formatClock(time)} `;
        stamp.title = formatDateTime(time);
      }
      row.appendChild(stamp);
    }
    for (const segment of parseAnsi(this.model.line(i))) {
      if (segment.classes.length === 0) {
        row.appendChild(document.createTextNode(segment.text));
      } else {
        const span = document.createElement('span');
        span.className = segment.classes.join(' ');
        span.textContent = segment.text;
        row.appendChild(span);
      }
    }
    return row;
  }

  private _requestRender(): void {
    if (this._pending || this.isDisposed) {
      return;
    }
    this._pending = true;
    this._schedule(() => {
      if (!this.isDisposed) {
        this.renderNow();
      }
    });
  }

  private _onScroll = (): void => {
    if (this._programmaticScroll) {
      this._programmaticScroll = false;
    } else {
      const v = this._viewport;
      const atEnd = v.scrollHeight - v.scrollTop - v.clientHeight < LINE_HEIGHT;
      this.follow = atEnd;
    }
    this._requestRender();
  };

  private _viewport: HTMLDivElement;
  private _spacer: HTMLDivElement;
  private _rows: HTMLDivElement;
  private _follow: boolean;
  private _showTimes: boolean;
  private _schedule: FrameScheduler;
  private _pending = false;
  private _programmaticScroll = false;
  private _matches = new Set<number>();
  private _current: number | null = null;
  private _renderedRange: [number, number] = [0, 0];
  private _followChanged = new Signal<this, boolean>(this);
  private _rendered = new Signal<this, number>(this);
}
