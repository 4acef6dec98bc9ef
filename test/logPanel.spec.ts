import { Widget } from '@lumino/widgets';

import { ISocketLike } from '../src/api/stream';
import { IJob } from '../src/api/types';
import { JobLog } from '../src/models/jobLog';
import { LogPanel } from '../src/widgets/logPanel';

class FakeSocket implements ISocketLike {
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  send(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  close(): void {
    /* nothing to close */
  }
}

function job(state: IJob['state'], eventCount: number): IJob {
  return {
    id: 'j1',
    kind: 'build+deploy',
    project: 'work/iris',
    state,
    created_at: '',
    event_count: eventCount
  };
}

function setup() {
  const socket = new FakeSocket();
  const jobLog = new JobLog('j1', { socketFactory: () => socket });
  const panel = new LogPanel(jobLog);
  Widget.attach(panel, document.body);
  jobLog.start();
  const q = (id: string) =>
    panel.node.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
  return { socket, panel, q };
}

describe('LogPanel', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('shows the state, and enables cancel while running and re-run once ended', () => {
    const { socket, panel, q } = setup();
    socket.send({ type: 'job', job: job('running', 0) });
    expect(q('job-state').textContent).toBe('Running');
    expect((q('job-cancel') as HTMLButtonElement).disabled).toBe(false);
    expect((q('job-rerun') as HTMLButtonElement).disabled).toBe(true);
    socket.send({ type: 'job', job: job('failed', 0) });
    expect(panel.node.dataset.state).toBe('failed');
    expect((q('job-cancel') as HTMLButtonElement).disabled).toBe(true);
    expect((q('job-rerun') as HTMLButtonElement).disabled).toBe(false);
    panel.dispose();
  });

  it('renders steps with durations, the progress bar, and marks a step cut short', () => {
    const { socket, panel } = setup();
    socket.send({ type: 'job', job: job('running', 4) });
    socket.send({
      type: 'events',
      events: [
        { offset: 0, event: 'step', name: 'validate', status: 'started' },
        {
          offset: 1,
          event: 'step',
          name: 'validate',
          status: 'done',
          seconds: 0.2
        },
        { offset: 2, event: 'step', name: 'environment', status: 'started' },
        { offset: 3, event: 'progress', step: 'environment', done: 3, total: 4 }
      ]
    });
    const steps = panel.node.querySelectorAll('.jp-HubApi-step');
    expect(steps.length).toBe(2);
    expect(steps[0].textContent).toContain('0.2 s');
    const progress = panel.node.querySelector<HTMLElement>(
      '.jp-HubApi-progress'
    )!;
    expect(progress.hidden).toBe(false);
    expect(progress.getAttribute('aria-valuenow')).toBe('75');
    socket.send({ type: 'job', job: job('cancelled', 4) });
    expect(
      panel.node.querySelector('[data-step="environment"]')!.className
    ).toContain('jp-mod-stopped');
    expect(progress.hidden).toBe(true);
    panel.dispose();
  });

  it('gives every step item a name of its own, and keeps focus while durations tick', () => {
    const { socket, panel } = setup();
    socket.send({ type: 'job', job: job('running', 4) });
    socket.send({
      type: 'events',
      events: [
        { offset: 0, event: 'step', name: 'environment', status: 'started' },
        {
          offset: 1,
          event: 'step',
          name: 'environment',
          status: 'done',
          seconds: 2
        },
        { offset: 2, event: 'step', name: 'upload', status: 'started' },
        { offset: 3, event: 'step', name: 'environment', status: 'started' }
      ]
    });
    const buttons = () =>
      Array.from(
        panel.node.querySelectorAll<HTMLButtonElement>('.jp-HubApi-step button')
      );
    const names = buttons().map(b => b.getAttribute('aria-label'));
    expect(names).toEqual([
      'environment, done, 2.0 s',
      'upload, running',
      'environment on the platform, running'
    ]);
    const first = buttons()[0];
    first.focus();
    socket.send({
      type: 'events',
      events: [
        {
          offset: 4,
          event: 'step',
          name: 'environment',
          status: 'done',
          seconds: 3
        }
      ]
    });
    expect(buttons()[0]).toBe(first);
    expect(document.activeElement).toBe(first);
    expect(buttons()[2].getAttribute('aria-label')).toBe(
      'environment on the platform, done, 3.0 s'
    );
    panel.dispose();
  });

  it('searches the log with Enter and counts the matches', () => {
    const { socket, panel, q } = setup();
    socket.send({
      type: 'events',
      events: ['Installing numpy', 'done', 'numpy ready'].map(
        (line, offset) => ({
          offset,
          event: 'log',
          stream: 'stdout',
          line
        })
      )
    });
    const search = q('job-search') as HTMLInputElement;
    search.value = 'NUMPY';
    search.dispatchEvent(new Event('input'));
    search.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(panel.node.querySelector('.jp-HubApi-matchCount')!.textContent).toBe(
      '1 of 2'
    );
    search.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(panel.node.querySelector('.jp-HubApi-matchCount')!.textContent).toBe(
      '2 of 2'
    );
    panel.dispose();
  });
});
