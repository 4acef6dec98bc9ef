/**
 * The model of a job's log panel: every line in a flat buffer (not the DOM), the named steps
 * with their state and duration, the current progress and the job record. Views subscribe to
 * its signals and render only what is visible.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { deployOutcome, IJob, JobEvent } from '../api/types';
import { stripAnsi } from './ansi';

/** What a line of the log is. */
export type LineKind = 'stdout' | 'stderr' | 'step' | 'error' | 'result';

/** One step of the job, as the CLI named it. */
export interface IStep {
  name: string;
  /**
   * The name shown: the CLI's name, made distinct when an earlier step had it (a build and
   * deploy job prepares the "environment" twice: the build's, then the platform's).
   */
  label: string;
  status: 'started' | 'done' | 'failed';
  /** Index of the step's first line in the buffer. */
  line: number;
  /** Seconds the step took, once it ended. */
  seconds: number | null;
  /** Arrival time of the start event (seconds since the epoch), for a live duration. */
  startedAt: number | null;
}

/** The progress the CLI reports for a step. */
export interface IProgress {
  step: string;
  done: number;
  total: number | null;
}

/**
 * Whether a line a tool wrote to stderr tells of a problem. Installers write their ordinary
 * progress to stderr ("Resolved 12 packages", "Downloading scipy"): those are not problems and
 * are not shown on the error background.
 */
export function isProblemLine(text: string): boolean {
  return /\b(error|errors|exception|traceback|failed|failure|fatal|warning|denied|refused|cannot|could not|not found|no such)\b/i.test(
    stripAnsi(text)
  );
}

/** The steps that start the deploy half of a job: the steps after them run on the platform. */
const PLATFORM_PHASE = new Set(['connect', 'upload']);

/** Format a duration for people: "0.4 s", "12 s", "3 min 05 s". */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return `${minutes} min ${String(rest).padStart(2, '0')} s`;
}

/**
 * The last line of a deploy: which version went live, and where ("Version 3 (0.1.0, build
 * 3f5a1c9e) is live at …"; "… was live already" when the build was).
 */
export function liveLine(
  fields: Record<string, any>,
  endpoint: string
): string {
  const deploy =
    fields.deploy && typeof fields.deploy === 'object' ? fields.deploy : fields;
  const n = deploy.version_number;
  if (typeof n !== 'number') {
    return `Live at ${endpoint}`;
  }
  const details = [
    deploy.version,
    deploy.build_id ? `build ${String(deploy.build_id).slice(0, 8)}` : null
  ]
    .filter(Boolean)
    .join(', ');
  const what = `Version #${n}${details ? ` (${details})` : ''}`;
  return deploy.unchanged
    ? `${what} was live already at ${endpoint}`
    : `${what} is live at ${endpoint}`;
}

/** "14:03:07": a time (seconds since the epoch) on the local clock; "" for none. */
export function formatClock(time: number | null | undefined): string {
  if (time === null || time === undefined || !Number.isFinite(time)) {
    return '';
  }
  const d = new Date(time * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map(n => String(n).padStart(2, '0'))
    .join(':');
}

/** What stands for a missing time, as wide as `formatClock`'s answer. */
export const CLOCK_BLANK = ' '.repeat(8);

/** The full local date and time of a time (seconds since the epoch), for a tooltip. */
export function formatDateTime(time: number): string {
  const d = new Date(time * 1000);
  const ms = String(d.getMilliseconds()).padStart(3, '0');
  return `${d.toLocaleDateString()} ${formatClock(time)}.${ms}`;
}

/** The log of one job. */
export class LogModel {
  constructor(options: { maxLines?: number } = {}) {
    this._maxLines = options.maxLines ?? 0;
  }

  /** Lines were added (the count of new lines), or the buffer was trimmed/cleared (0). */
  get linesChanged(): ISignal<this, number> {
    return this._linesChanged;
  }

  /** A step, the progress or the job changed. */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  /** The number of lines. */
  get length(): number {
    return this._text.length;
  }

  /** How many lines were dropped from the start to stay within `maxLines`. */
  get dropped(): number {
    return this._dropped;
  }

  /** The steps in the order they started. */
  get steps(): readonly IStep[] {
    return this._steps;
  }

  /** The newest progress report, or null when the current step reports none. */
  get progress(): IProgress | null {
    return this._progress;
  }

  /** The job record, when known. */
  get job(): IJob | null {
    return this._job;
  }
  set job(job: IJob | null) {
    this._job = job;
    this._stateChanged.emit();
  }

  /** The result event's fields, once the job produced one. */
  get result(): Record<string, any> | null {
    return this._result;
  }

  /** The raw text of line `i` (with its escapes). */
  line(i: number): string {
    return this._text[i];
  }

  /** The kind of line `i`. */
  kind(i: number): LineKind {
    return this._kind[i];
  }

  /**
   * When line `i` arrived (seconds since the epoch: the job event's `time`, or when the panel
   * added its own note), or null when unknown.
   */
  time(i: number): number | null {
    return this._time[i];
  }

  /** Add plain lines (e.g. a note of the panel itself), stamped now unless `time` is given. */
  appendLines(
    lines: string[],
    kind: LineKind = 'stdout',
    time: number | null = Date.now() / 1000
  ): void {
    let added = 0;
    for (const text of lines) {
      // One event may carry several lines (a traceback): each is its own row.
      for (const part of text.split('\n')) {
        this._text.push(part);
        this._kind.push(kind);
        this._plain.push(null);
        this._time.push(time);
        added++;
      }
    }
    this._trim();
    if (added) {
      this._linesChanged.emit(added);
    }
  }

  /** Apply a batch of job events in order. */
  appendEvents(events: readonly JobEvent[]): void {
    const before = this._text.length + this._dropped;
    let state = false;
    for (const event of events) {
      this._eventTime = event.time ?? null;
      switch (event.event) {
        case 'log':
          this._push(event.line, this._streamKind(event));
          break;
        case 'step': {
          state = true;
          // The same name may come twice (build's and deploy's "environment"): an end event
          // closes the newest open step of that name.
          let existing: IStep | undefined;
          for (let i = this._steps.length - 1; i >= 0; i--) {
            if (
              this._steps[i].name === event.name &&
              this._steps[i].status === 'started'
            ) {
              existing = this._steps[i];
              break;
            }
          }
          if (event.status === 'started' || !existing) {
            const label = this._labelFor(event.name);
            if (PLATFORM_PHASE.has(event.name)) {
              this._platformPhase = true;
            }
            this._steps.push({
              name: event.name,
              label,
              status: event.status,
              line: this._text.length + this._dropped,
              seconds: event.seconds ?? null,
              startedAt: event.time ?? null
            });
            this._push(`▶ ${label}`, 'step');
          } else {
            existing.status = event.status;
            existing.seconds = event.seconds ?? null;
            const took =
              event.seconds !== undefined
                ? ` (${formatSeconds(event.seconds)})`
                : '';
            this._push(
              `${event.status === 'done' ? '✔' : '✘'} ${existing.label}${took}`,
              event.status === 'done' ? 'step' : 'error'
            );
          }
          // Progress belongs to the step that reported it (its name may differ: "hash-model"
          // inside "store-files"); any step boundary ends it.
          this._progress = null;
          break;
        }
        case 'progress':
          state = true;
          this._progress = {
            step: event.step,
            done: event.done,
            total: event.total
          };
          break;
        case 'result': {
          state = true;
          // eslint-disable-next-line @typescript-eslint/no-unused-vars
          const { event: _e, offset: _o, time: _t, ...fields } = event as any;
          this._result = fields;
          const outcome = deployOutcome(fields);
          if (outcome) {
            this._push(liveLine(fields, outcome.endpoint), 'result');
          }
          break;
        }
        case 'error':
          state = true;
          this._push(`Error: ${event.message}`, 'error');
          break;
      }
    }
    this._trim();
    const added = this._text.length + this._dropped - before;
    if (added > 0) {
      this._linesChanged.emit(added);
    }
    if (state) {
      this._stateChanged.emit();
    }
  }

  /** Indices of the lines whose plain text holds `query` (case-insensitive). */
  search(query: string): number[] {
    const needle = query.toLowerCase();
    if (!needle) {
      return [];
    }
    const out: number[] = [];
    for (let i = 0; i < this._text.length; i++) {
      if (this.plain(i).toLowerCase().includes(needle)) {
        out.push(i);
      }
    }
    return out;
  }

  /** The plain text of line `i` (cached: search runs over it many times). */
  plain(i: number): string {
    let plain = this._plain[i];
    if (plain === null) {
      plain = stripAnsi(this._text[i]);
      this._plain[i] = plain;
    }
    return plain;
  }

  /**
   * The whole log as plain text, for copying; with `times`, each line starts with its time
   * as shown (`formatClock`; blanks of the same width for a line without one).
   */
  toText(times = false): string {
    const out: string[] = new Array(this._text.length);
    for (let i = 0; i < this._text.length; i++) {
      out[i] = times
        ? `${formatClock(this._time[i]) || CLOCK_BLANK} ${this.plain(i)}`
        : this.plain(i);
    }
    return out.join('\n');
  }

  /** Forget every line, step and progress (before a re-run is followed). */
  clear(): void {
    this._text = [];
    this._kind = [];
    this._plain = [];
    this._time = [];
    this._steps = [];
    this._progress = null;
    this._result = null;
    this._dropped = 0;
    this._platformPhase = false;
    this._inTraceback = false;
    this._linesChanged.emit(0);
    this._stateChanged.emit();
  }

  /** A distinct label for a new step named `name`. */
  private _labelFor(name: string): string {
    const taken = new Set(this._steps.map(step => step.label));
    if (!taken.has(name)) {
      return name;
    }
    const platform = `${name} on the platform`;
    if (this._platformPhase && !taken.has(platform)) {
      return platform;
    }
    let n = 2;
    while (taken.has(`${name} (${n})`)) {
      n++;
    }
    return `${name} (${n})`;
  }

  /**
   * The kind of a log line: stdout, or stderr only for what tells of a problem (and the rest
   * of a traceback: its indented lines and the exception line that ends it).
   */
  private _streamKind(event: { stream: string; line: string }): LineKind {
    if (event.stream !== 'stderr') {
      this._inTraceback = false;
      return 'stdout';
    }
    const plain = stripAnsi(event.line);
    if (this._inTraceback) {
      if (!/^\s/.test(plain)) {
        this._inTraceback = false; // the exception line ends it
      }
      return 'stderr';
    }
    if (/^Traceback \(most recent call last\)/.test(plain)) {
      this._inTraceback = true;
      return 'stderr';
    }
    return isProblemLine(plain) ? 'stderr' : 'stdout';
  }

  private _push(text: string, kind: LineKind): void {
    for (const part of text.split('\n')) {
      this._text.push(part);
      this._kind.push(kind);
      this._plain.push(null);
      this._time.push(this._eventTime);
    }
  }

  private _trim(): void {
    const excess = this._maxLines > 0 ? this._text.length - this._maxLines : 0;
    if (excess > 0) {
      this._text.splice(0, excess);
      this._kind.splice(0, excess);
      this._plain.splice(0, excess);
      this._time.splice(0, excess);
      this._dropped += excess;
      this._linesChanged.emit(0);
    }
  }

  private _maxLines: number;
  private _text: string[] = [];
  private _kind: LineKind[] = [];
  private _plain: (string | null)[] = [];
  private _time: (number | null)[] = [];
  private _eventTime: number | null = null;
  private _dropped = 0;
  private _steps: IStep[] = [];
  private _progress: IProgress | null = null;
  private _result: Record<string, any> | null = null;
  private _platformPhase = false;
  private _inTraceback = false;
  private _job: IJob | null = null;
  private _linesChanged = new Signal<this, number>(this);
  private _stateChanged = new Signal<this, void>(this);
}
