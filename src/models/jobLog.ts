/**
 * A job followed live: its event stream feeding a `LogModel`, with the job's actions.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { HubClient } from '../api/client';
import { HubApiError } from '../request';
import { JobEventStream, SocketFactory } from '../api/stream';
import { IJob, isFinal } from '../api/types';
import { LogModel } from './logModel';

/** One job and its log. */
export class JobLog {
  constructor(
    readonly jobId: string,
    options: { maxLines?: number; socketFactory?: SocketFactory } = {}
  ) {
    this.model = new LogModel({ maxLines: options.maxLines });
    this._stream = new JobEventStream(jobId, {
      socketFactory: options.socketFactory
    });
    this._stream.events.connect((_, events) => this.model.appendEvents(events));
    this._stream.jobChanged.connect((_, job) => {
      this.model.job = job;
      this._jobChanged.emit(job);
    });
    this._stream.disconnected.connect(
      (_, message) => void this._onDisconnected(message)
    );
  }

  /** The lines, steps and progress. */
  readonly model: LogModel;

  /** The job record changed (state, exit code...). */
  get jobChanged(): ISignal<this, IJob> {
    return this._jobChanged;
  }

  /** True while the job can still change. */
  get isActive(): boolean {
    const job = this.model.job;
    return job === null || !isFinal(job.state);
  }

  /** Start following (idempotent). */
  start(): void {
    this._stream.start();
  }

  /** Ask the server to stop the job. */
  async cancel(): Promise<IJob> {
    const job = await HubClient.cancelJob(this.jobId);
    this.model.job = job;
    return job;
  }

  /** Start a new job doing the same; answers the new job. */
  rerun(): Promise<IJob> {
    return HubClient.rerunJob(this.jobId);
  }

  /**
   * A dropped connection: say so, unless the job is gone for good (deleted, or a panel
   * restored for a job of another server), in which case stop following.
   */
  private async _onDisconnected(message: string): Promise<void> {
    if (this._stream.job === null && !this._checked) {
      this._checked = true;
      try {
        await HubClient.getJob(this.jobId);
      } catch (error) {
        if (error instanceof HubApiError && error.status === 404) {
          this._stream.dispose();
          this.model.appendLines(
            [error.message || `Job ${this.jobId} does not exist.`],
            'error'
          );
          return;
        }
      }
    }
    this.model.appendLines([message], 'error');
  }

  /** Stop following. */
  dispose(): void {
    this._stream.dispose();
    Signal.clearData(this);
  }

  private _stream: JobEventStream;
  private _checked = false;
  private _jobChanged = new Signal<this, IJob>(this);
}
