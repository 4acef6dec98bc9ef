/**
 * The jobs-list WebSocket (`/hub-api/jobs/watch`): every job created or changed, so that the
 * notifications and the deployments panel react to events instead of polling.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { openSocket } from '../request';
import { backoffDelay, ISocketLike } from './stream';
import { IJob, JobsWatchMessage } from './types';

/** A change of one job, with its previous state when it was known. */
export interface IJobChange {
  job: IJob;
  previous: IJob | null;
}

/** Keeps the list of jobs current and tells what changed. */
export class JobsWatcher {
  constructor(
    private _factory: () => ISocketLike = () => openSocket('jobs/watch'),
    private _schedule: (fn: () => void, ms: number) => unknown = (fn, ms) =>
      setTimeout(fn, ms)
  ) {}

  /** A job was created or changed (the first listing does not count as changes). */
  get changed(): ISignal<this, IJobChange> {
    return this._changed;
  }

  /** Known jobs by id. */
  get jobs(): ReadonlyMap<string, IJob> {
    return this._jobs;
  }

  /** Connect, and reconnect when the connection drops. */
  start(): void {
    if (this._disposed || this._socket) {
      return;
    }
    const socket = this._factory();
    this._socket = socket;
    socket.onmessage = message => {
      let data: JobsWatchMessage;
      try {
        data = JSON.parse(String(message.data));
      } catch {
        return; // the server sends JSON only; anything else is not ours
      }
      this.handle(data);
    };
    socket.onerror = () => undefined;
    socket.onclose = () => {
      this._socket = null;
      if (!this._disposed) {
        this._schedule(() => this.start(), backoffDelay(this._attempt++));
      }
    };
  }

  /** Apply one message of the server (public for tests). */
  handle(message: JobsWatchMessage): void {
    this._attempt = 0;
    if (message.type === 'jobs') {
      const first = !this._listed;
      this._listed = true;
      for (const job of message.jobs) {
        const previous = this._jobs.get(job.id) ?? null;
        this._jobs.set(job.id, job);
        // After a reconnect, what changed while we were away still counts as a change.
        if (!first && (!previous || previous.state !== job.state)) {
          this._changed.emit({ job, previous });
        }
      }
    } else if (message.type === 'job') {
      const previous = this._jobs.get(message.job.id) ?? null;
      this._jobs.set(message.job.id, message.job);
      this._changed.emit({ job: message.job, previous });
    } else if (message.type === 'deleted') {
      this._jobs.delete(message.id);
    }
  }

  /** Stop watching. */
  dispose(): void {
    this._disposed = true;
    if (this._socket) {
      this._socket.onclose = null;
      this._socket.close();
      this._socket = null;
    }
    Signal.clearData(this);
  }

  private _socket: ISocketLike | null = null;
  private _attempt = 0;
  private _listed = false;
  private _disposed = false;
  private _jobs = new Map<string, IJob>();
  private _changed = new Signal<this, IJobChange>(this);
}
