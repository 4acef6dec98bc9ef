/**
 * Log lines carry their time (issue 11.4): the job log panel (events with the server's
 * arrival `time`, models/jobLog.ts's stream) and the API's Logs tab (the platform's LogLine
 * `ts`, over test/server.ts's shapes), each with a remembered toggle that hides them.
 */
import { Clipboard } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ISocketLike } from '../src/api/stream';
import { JobLog } from '../src/models/jobLog';
import { ApiModel, DeploymentsModel } from '../src/models/deployments';
import {
  CLOCK_BLANK,
  formatClock,
  formatDateTime,
  LogModel
} from '../src/models/logModel';
import { LogsTab } from '../src/widgets/deployments';
import { LogPanel, SHOW_TIMES_KEY } from '../src/widgets/logPanel';
import { key, QUOTA, serve, summary, until } from './server';

const trans = nullTranslator.load('jupyter_hub_api');

/** A local time of today as seconds since the epoch (the rendering is on the local clock). */
function at(h: number, m: number, s: number, ms = 0): number {
  const d = new Date(2026, 11, 2, h, m, s, ms);
  return d.getTime() / 1000;
}

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

/** A log panel fed by the server's job-watch messages (events with `time`). */
function panelWithLines() {
  const socket = new FakeSocket();
  const jobLog = new JobLog('j1', { socketFactory: () => socket });
  const panel = new LogPanel(jobLog);
  Widget.attach(panel, document.body);
  jobLog.start();
  socket.send({
    type: 'events',
    job_id: 'j1',
    events: [
      {
        offset: 0,
        time: at(9, 5, 7, 250),
        event: 'step',
        name: 'build',
        status: 'started'
      },
      {
        offset: 1,
        time: at(9, 5, 8),
        event: 'log',
        stream: 'stdout',
        line: 'Resolved 12 packages'
      }
    ]
  });
  panel.view.renderNow();
  return { panel, jobLog };
}

function rows(panel: Widget): HTMLElement[] {
  return [...panel.node.querySelectorAll<HTMLElement>('.jp-HubApi-logLine')];
}

beforeEach(() => window.localStorage.clear());
afterEach(() => {
  document.body.innerHTML = '';
});

describe('formatClock', () => {
  it('writes HH:MM:SS on the local clock, and nothing for no time', () => {
    expect(formatClock(at(9, 5, 7))).toBe('09:05:07');
    expect(formatClock(at(23, 59, 0))).toBe('23:59:00');
    expect(formatClock(null)).toBe('');
    expect(CLOCK_BLANK.length).toBe(formatClock(at(1, 2, 3)).length);
    expect(formatDateTime(at(9, 5, 7, 250))).toMatch(/ 09:05:07\.250$/);
  });
});

describe('LogModel times', () => {
  it("keeps each line's event time and copies it only when asked", () => {
    const model = new LogModel();
    model.appendEvents([
      {
        offset: 0,
        time: at(9, 5, 7),
        event: 'log',
        stream: 'stdout',
        line: 'a\nb'
      },
      { offset: 1, event: 'log', stream: 'stdout', line: 'c' }
    ]);
    expect([0, 1, 2].map(i => model.time(i))).toEqual([
      at(9, 5, 7),
      at(9, 5, 7),
      null
    ]);
    expect(model.toText()).toBe('a\nb\nc');
    expect(model.toText(true)).toBe(`09:05:07 a\n09:05:07 b\n${CLOCK_BLANK} c`);
    model.appendLines(['a note'], 'error', at(10, 0, 0));
    expect(model.time(3)).toBe(at(10, 0, 0));
  });
});

describe('LogPanel times', () => {
  it('starts each row with its time, the full date in the title, aligned', () => {
    const { panel } = panelWithLines();
    const [step, line] = rows(panel);
    const stamp = line.querySelector('.jp-HubApi-logTime')!;
    expect(stamp.textContent).toBe('09:05:08 ');
    expect(stamp.getAttribute('title')).toBe(formatDateTime(at(9, 5, 8)));
    expect(line.textContent).toBe('09:05:08 Resolved 12 packages');
    expect(step.textContent).toBe('09:05:07 ▶ build');
    const box = panel.node.querySelector<HTMLInputElement>(
      '[data-testid="job-times"]'
    )!;
    expect(box.checked).toBe(true);
    panel.dispose();
  });

  it('hides them with the toggle, remembers it, and copies what is shown', () => {
    const copied: string[] = [];
    jest
      .spyOn(Clipboard, 'copyToSystem')
      .mockImplementation(text => void copied.push(String(text)));
    const { panel } = panelWithLines();
    const copy = () =>
      [...panel.node.querySelectorAll('button')]
        .find(b => b.textContent === 'Copy')!
        .click();
    copy();
    expect(copied.pop()).toBe(
      '09:05:07 ▶ build\n09:05:08 Resolved 12 packages'
    );
    const box = panel.node.querySelector<HTMLInputElement>(
      '[data-testid="job-times"]'
    )!;
    box.click(); // unchecks and fires change
    panel.view.renderNow();
    expect(panel.node.querySelector('.jp-HubApi-logTime')).toBeNull();
    expect(rows(panel)[1].textContent).toBe('Resolved 12 packages');
    copy();
    expect(copied.pop()).toBe('▶ build\nResolved 12 packages');
    expect(window.localStorage.getItem(SHOW_TIMES_KEY)).toBe('hidden');
    panel.dispose();

    // The next panel opens with them hidden.
    const next = panelWithLines().panel;
    expect(
      next.node.querySelector<HTMLInputElement>('[data-testid="job-times"]')!
        .checked
    ).toBe(false);
    expect(next.node.querySelector('.jp-HubApi-logTime')).toBeNull();
    next.dispose();
    jest.restoreAllMocks();
  });
});

describe('LogsTab times', () => {
  function platform() {
    serve({
      'GET platform/apis': () => [200, { apis: [summary()], quota: QUOTA }],
      'GET platform/keys': () => [200, { keys: [key()] }],
      'GET platform/apis/iris/logs': () => [
        200,
        {
          api: 'iris',
          lines: [
            {
              id: 7,
              ts: at(9, 5, 7, 500),
              stream: 'stdout',
              line: 'loaded',
              invocation_id: null
            },
            {
              id: 8,
              ts: at(9, 6, 0),
              stream: 'stdout',
              line: 'called with [1]',
              invocation_id: 'inv1'
            }
          ],
          next: 8
        }
      ]
    });
  }

  async function tab(): Promise<LogsTab> {
    platform();
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const logs = new LogsTab(new ApiModel('iris', deployments), trans);
    Widget.attach(logs, document.body);
    await logs.load();
    await until(
      () => !!logs.node.querySelector('[data-testid="api-logs"]'),
      'the lines'
    );
    return logs;
  }

  it("shows each line's time and hides them with the remembered toggle", async () => {
    let logs = await tab();
    const pre = () =>
      logs.node.querySelector('[data-testid="api-logs"]') as HTMLElement;
    expect(pre().textContent).toBe('09:05:07 loaded\n09:06:00 called with [1]');
    expect(
      pre().querySelector('.jp-HubApi-logTime')!.getAttribute('title')
    ).toBe(formatDateTime(at(9, 5, 7, 500)));
    const box = logs.node.querySelector<HTMLInputElement>(
      '[data-testid="api-logs-times"]'
    )!;
    expect(box.checked).toBe(true);
    box.click();
    await until(
      () => !pre().querySelector('.jp-HubApi-logTime'),
      'the times hidden'
    );
    expect(pre().textContent).toBe('loaded\ncalled with [1]');
    expect(window.localStorage.getItem(SHOW_TIMES_KEY)).toBe('hidden');
    logs.dispose();

    logs = await tab();
    expect(pre().textContent).toBe('loaded\ncalled with [1]');
    logs.dispose();
  });
});
