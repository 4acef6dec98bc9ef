import { JobsWatcher } from '../src/api/jobsWatch';
import { backoffDelay, ISocketLike, JobEventStream } from '../src/api/stream';
import { IJob, JobEvent } from '../src/api/types';

/** A socket the test drives by hand. */
class FakeSocket implements ISocketLike {
  constructor(readonly offset: number) {}
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  closed = false;
  send(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006): void {
    this.onclose?.({ code });
  }
  close(): void {
    this.closed = true;
  }
}

function job(state: IJob['state'], eventCount: number): IJob {
  return {
    id: 'j1',
    kind: 'build',
    project: 'iris',
    state,
    created_at: '',
    event_count: eventCount
  };
}

function events(from: number, to: number): JobEvent[] {
  const out: JobEvent[] = [];
  for (let i = from; i < to; i++) {
    out.push({ offset: i, event: 'log', stream: 'stdout', line: `line ${i}` });
  }
  return out;
}

function setup() {
  const sockets: FakeSocket[] = [];
  const scheduled: (() => void)[] = [];
  const stream = new JobEventStream('j1', {
    socketFactory: (_id, offset) => {
      const s = new FakeSocket(offset);
      sockets.push(s);
      return s;
    },
    schedule: fn => scheduled.push(fn)
  });
  const seen: number[] = [];
  stream.events.connect((_, batch) => batch.forEach(e => seen.push(e.offset)));
  return { stream, sockets, scheduled, seen };
}

describe('JobEventStream', () => {
  it('resumes from the next offset after a drop, without losing or repeating events', () => {
    const { stream, sockets, scheduled, seen } = setup();
    stream.start();
    sockets[0].send({ type: 'job', job: job('running', 3) });
    sockets[0].send({ type: 'events', events: events(0, 3) });
    sockets[0].drop();
    expect(scheduled.length).toBe(1);
    scheduled[0]();
    expect(sockets[1].offset).toBe(3);
    // The server may send again what it had sent: it is dropped by offset.
    sockets[1].send({ type: 'events', events: events(2, 6) });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(stream.offset).toBe(6);
  });

  it('ends once the job is final and every event arrived', () => {
    const { stream, sockets, scheduled } = setup();
    const ended = jest.fn();
    stream.ended.connect(ended);
    stream.start();
    sockets[0].send({ type: 'events', events: events(0, 2) });
    sockets[0].send({ type: 'job', job: job('succeeded', 3) });
    expect(ended).not.toHaveBeenCalled();
    // Closed before the last event: it reconnects for the rest.
    sockets[0].drop(1000);
    scheduled[0]();
    sockets[1].send({ type: 'events', events: events(2, 3) });
    expect(ended).toHaveBeenCalledTimes(1);
    expect(stream.isDone).toBe(true);
    sockets[1].drop(1000);
    expect(scheduled.length).toBe(1);
  });

  it('backs off between reconnects, up to 10 s', () => {
    expect(backoffDelay(0)).toBe(500);
    expect(backoffDelay(1)).toBe(1000);
    expect(backoffDelay(10)).toBe(10000);
  });

  it('gives up after many failed attempts in a row and says so', () => {
    const { stream, sockets, scheduled } = setup();
    const messages: string[] = [];
    stream.disconnected.connect((_, m) => messages.push(m));
    stream.start();
    for (let i = 0; i < 20 && !stream.isDone; i++) {
      sockets[sockets.length - 1].drop();
      scheduled[scheduled.length - 1]?.();
    }
    expect(stream.isDone).toBe(true);
    expect(messages[messages.length - 1]).toMatch(/could not be reached/);
  });

  it('closes its socket when disposed', () => {
    const { stream, sockets } = setup();
    stream.start();
    stream.dispose();
    expect(sockets[0].closed).toBe(true);
  });
});

describe('JobsWatcher', () => {
  it('reports changes after the first listing, with the previous state', () => {
    const watcher = new JobsWatcher(
      () => new FakeSocket(0),
      () => undefined
    );
    const changes: [string, string | null][] = [];
    watcher.changed.connect((_, c) =>
      changes.push([c.job.state, c.previous?.state ?? null])
    );
    watcher.handle({ type: 'jobs', jobs: [job('running', 0)] });
    expect(changes).toEqual([]);
    watcher.handle({ type: 'job', job: job('succeeded', 4) });
    expect(changes).toEqual([['succeeded', 'running']]);
    watcher.handle({ type: 'deleted', id: 'j1' });
    expect(watcher.jobs.size).toBe(0);
  });

  it('counts what changed while disconnected as changes at the next listing', () => {
    const watcher = new JobsWatcher(
      () => new FakeSocket(0),
      () => undefined
    );
    const states: string[] = [];
    watcher.changed.connect((_, c) => states.push(c.job.state));
    watcher.handle({ type: 'jobs', jobs: [job('running', 0)] });
    watcher.handle({ type: 'jobs', jobs: [job('failed', 2)] });
    expect(states).toEqual(['failed']);
  });
});
