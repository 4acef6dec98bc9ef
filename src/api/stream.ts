/**
 * Follow a job's events over the WebSocket `/hub-api/jobs/<id>/events?offset=N`, resuming
 * from the next expected offset whenever the connection drops (a server restart, a network
 * blip, a laptop waking up), so no event is lost or shown twice.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { openSocket } from '../request';
import { IJob, isFinal, JobEvent, JobStreamMessage } from './types';

/** The part of a WebSocket the stream uses (so tests can drive it without a server). */
export interface ISocketLike {
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  close(code?: number, reason?: string): void;
}

/** Opens a socket for a job from an offset. */
export type SocketFactory = (jobId: string, offset: number) => ISocketLike;

/** How long to wait before reconnecting after the n-th failed attempt (ms). */
export function backoffDelay(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 10000);
}

/** Reconnect attempts in a row without any message before giving up. */
const MAX_ATTEMPTS = 12;

const defaultFactory: SocketFactory = (jobId, offset) =>
  openSocket(`jobs/${encodeURIComponent(jobId)}/events`, { offset });

/**
 * A live, resumable stream of one job's events.
 *
 * `events` fires with each batch of new events in order (duplicates after a resume are
 * dropped by offset); `jobChanged` with each job record the server sends; `ended` once the
 * job reached a final state and everything up to it arrived.
 */
export class JobEventStream {
  constructor(
    readonly jobId: string,
    options: {
      offset?: number;
      socketFactory?: SocketFactory;
      schedule?: (fn: () => void, ms: number) => unknown;
    } = {}
  ) {
    this._offset = options.offset ?? 0;
    this._factory = options.socketFactory ?? defaultFactory;
    this._schedule = options.schedule ?? ((fn, ms) => setTimeout(fn, ms));
  }

  /** New events, in order, never twice. */
  get events(): ISignal<this, JobEvent[]> {
    return this._events;
  }

  /** The job record, at the start and at every state change. */
  get jobChanged(): ISignal<this, IJob> {
    return this._jobChanged;
  }

  /** Fired once: the job ended and its whole log arrived. */
  get ended(): ISignal<this, IJob> {
    return this._ended;
  }

  /** Fired with a sentence when the connection dropped and a reconnect is scheduled. */
  get disconnected(): ISignal<this, string> {
    return this._disconnected;
  }

  /** The offset of the next event expected. */
  get offset(): number {
    return this._offset;
  }

  /** The newest job record seen. */
  get job(): IJob | null {
    return this._job;
  }

  /** True once the stream ended or was disposed. */
  get isDone(): boolean {
    return this._done;
  }

  /** Connect (or reconnect) from the current offset. */
  start(): void {
    if (this._done || this._socket) {
      return;
    }
    const socket = this._factory(this.jobId, this._offset);
    this._socket = socket;
    socket.onmessage = message => this._onMessage(message.data);
    socket.onerror = () => {
      /* onclose follows and decides */
    };
    socket.onclose = event => this._onClose(event.code);
  }

  /** Stop following (the job goes on on the server). */
  dispose(): void {
    this._done = true;
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    Signal.clearData(this);
  }

  private _onMessage(data: any): void {
    let message: JobStreamMessage;
    try {
      message = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return; // not ours; the server sends JSON only
    }
    this._attempt = 0;
    if (message.type === 'job') {
      this._job = message.job;
      this._jobChanged.emit(message.job);
      this._maybeEnd();
    } else if (message.type === 'events') {
      const fresh = message.events.filter(e => e.offset >= this._offset);
      if (fresh.length > 0) {
        this._offset = fresh[fresh.length - 1].offset + 1;
        this._events.emit(fresh);
      }
      this._maybeEnd();
    }
  }

  private _maybeEnd(): void {
    const job = this._job;
    if (
      !this._done &&
      job &&
      isFinal(job.state) &&
      this._offset >= job.event_count
    ) {
      this._done = true;
      this._ended.emit(job);
    }
  }

  private _onClose(code: number): void {
    this._socket = null;
    if (this._done) {
      return;
    }
    // 4004-like codes or a 404 on upgrade (the job is gone) arrive as 1006 too, so a missing
    // job is only told apart by the server's record: stop when it already said "final".
    const job = this._job;
    if (job && isFinal(job.state)) {
      // It closed after the final state but before all events came (a drop): resume once more.
      if (this._offset >= job.event_count) {
        this._maybeEnd();
        return;
      }
    }
    if (this._attempt >= MAX_ATTEMPTS) {
      this._done = true;
      this._disconnected.emit(
        `The job's log could not be reached after ${MAX_ATTEMPTS} attempts (code ${code}); reload to try again.`
      );
      return;
    }
    const delay = backoffDelay(this._attempt++);
    this._disconnected.emit(
      `Connection to the job's log lost (code ${code}); reconnecting in ${Math.round(delay / 100) / 10} s.`
    );
    this._schedule(() => this.start(), delay);
  }

  private _offset: number;
  private _factory: SocketFactory;
  private _schedule: (fn: () => void, ms: number) => unknown;
  private _socket: ISocketLike | null = null;
  private _job: IJob | null = null;
  private _attempt = 0;
  private _done = false;
  private _events = new Signal<this, JobEvent[]>(this);
  private _jobChanged = new Signal<this, IJob>(this);
  private _ended = new Signal<this, IJob>(this);
  private _disconnected = new Signal<this, string>(this);
}
