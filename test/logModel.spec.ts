import { JobEvent } from '../src/api/types';
import { applyCarriageReturns, parseAnsi, stripAnsi } from '../src/models/ansi';
import { formatSeconds, isProblemLine, LogModel } from '../src/models/logModel';

let offset = 0;
function log(line: string, stream: 'stdout' | 'stderr' = 'stdout'): JobEvent {
  return { offset: offset++, event: 'log', stream, line };
}

describe('parseAnsi', () => {
  it('leaves plain text alone', () => {
    expect(parseAnsi('hello')).toEqual([{ text: 'hello', classes: [] }]);
  });

  it("maps SGR colours to JupyterLab's ansi classes", () => {
    expect(
      parseAnsi('\x1b[31mred\x1b[0m plain \x1b[1;92mbold green\x1b[22m')
    ).toEqual([
      { text: 'red', classes: ['ansi-red-fg'] },
      { text: ' plain ', classes: [] },
      { text: 'bold green', classes: ['ansi-green-intense-fg', 'ansi-bold'] }
    ]);
  });

  it('handles backgrounds, underline and 256-colour indices below 16', () => {
    expect(parseAnsi('\x1b[44;4mx\x1b[38;5;9my\x1b[49;24;39mz')).toEqual([
      { text: 'x', classes: ['ansi-blue-bg', 'ansi-underline'] },
      {
        text: 'y',
        classes: ['ansi-red-intense-fg', 'ansi-blue-bg', 'ansi-underline']
      },
      { text: 'z', classes: [] }
    ]);
  });

  it('drops cursor movements and OSC titles', () => {
    expect(stripAnsi('\x1b[2K\x1b[1Gdone\x1b]0;title\x07!')).toBe('done!');
  });

  it('keeps what a terminal shows after carriage returns', () => {
    expect(applyCarriageReturns('10%\r50%\r100%')).toBe('100%');
    expect(applyCarriageReturns('line\r')).toBe('line');
    expect(stripAnsi('\x1b[32m 10%\r\x1b[32m100%\x1b[0m')).toBe('100%');
  });
});

describe('LogModel', () => {
  it('keeps lines in a buffer and tells how many arrived', () => {
    const model = new LogModel();
    const added: number[] = [];
    model.linesChanged.connect((_, n) => added.push(n));
    model.appendEvents([log('one'), log('two failed', 'stderr')]);
    expect(model.length).toBe(2);
    expect(model.kind(1)).toBe('stderr');
    expect(added).toEqual([2]);
  });

  it('splits an event holding several lines into rows', () => {
    const model = new LogModel();
    model.appendEvents([log('Traceback:\n  File "x"\nValueError')]);
    expect(model.length).toBe(3);
  });

  it('tracks steps with their state and duration', () => {
    const model = new LogModel();
    model.appendEvents([
      {
        offset: 0,
        time: 100,
        event: 'step',
        name: 'environment',
        status: 'started'
      },
      log('Resolved 3 packages'),
      { offset: 2, event: 'progress', step: 'environment', done: 1, total: 3 }
    ]);
    expect(model.steps).toEqual([
      {
        name: 'environment',
        label: 'environment',
        status: 'started',
        line: 0,
        seconds: null,
        startedAt: 100
      }
    ]);
    expect(model.progress).toEqual({ step: 'environment', done: 1, total: 3 });
    model.appendEvents([
      {
        offset: 3,
        event: 'step',
        name: 'environment',
        status: 'done',
        seconds: 12.5
      }
    ]);
    expect(model.steps[0].status).toBe('done');
    expect(model.steps[0].seconds).toBe(12.5);
    expect(model.progress).toBeNull();
    expect(model.plain(model.length - 1)).toBe('✔ environment (13 s)');
  });

  it('closes the newest open step when two steps share a name', () => {
    const model = new LogModel();
    model.appendEvents([
      { offset: 0, event: 'step', name: 'environment', status: 'started' },
      {
        offset: 1,
        event: 'step',
        name: 'environment',
        status: 'done',
        seconds: 1
      },
      { offset: 2, event: 'step', name: 'environment', status: 'started' },
      {
        offset: 3,
        event: 'step',
        name: 'environment',
        status: 'done',
        seconds: 2
      }
    ]);
    expect(model.steps.map(s => [s.status, s.seconds])).toEqual([
      ['done', 1],
      ['done', 2]
    ]);
    // No two steps carry the same name on screen.
    expect(model.steps.map(s => s.label)).toEqual([
      'environment',
      'environment (2)'
    ]);
  });

  it("names the platform's environment step apart from the build's", () => {
    const model = new LogModel();
    const names = ['environment', 'record', 'connect', 'upload', 'environment'];
    model.appendEvents(
      names.flatMap((name, i) => [
        {
          offset: 2 * i,
          event: 'step' as const,
          name,
          status: 'started' as const
        },
        {
          offset: 2 * i + 1,
          event: 'step' as const,
          name,
          status: 'done' as const,
          seconds: 1
        }
      ])
    );
    const labels = model.steps.map(s => s.label);
    expect(labels).toEqual([
      'environment',
      'record',
      'connect',
      'upload',
      'environment on the platform'
    ]);
    expect(new Set(labels).size).toBe(labels.length);
    expect(model.plain(model.length - 1)).toBe(
      '✔ environment on the platform (1.0 s)'
    );
  });

  it('keeps ordinary installer lines on stderr off the error style', () => {
    const model = new LogModel();
    model.appendEvents([
      log('Resolved 12 packages in 40ms', 'stderr'),
      log('Downloading scipy (35.1MiB)', 'stderr'),
      log(' + numpy==2.3.5', 'stderr'),
      log('error: No solution found for scikit-learn==99', 'stderr'),
      log('Traceback (most recent call last):', 'stderr'),
      log('  File "main.py", line 3, in <module>', 'stderr'),
      log('    import nothing', 'stderr'),
      log("ModuleNotFoundError: No module named 'nothing'", 'stderr'),
      log('Prepared 3 packages', 'stderr')
    ]);
    expect([...Array(model.length).keys()].map(i => model.kind(i))).toEqual([
      'stdout',
      'stdout',
      'stdout',
      'stderr',
      'stderr',
      'stderr',
      'stderr',
      'stderr',
      'stdout'
    ]);
    expect(isProblemLine('WARNING: pip is out of date')).toBe(true);
    expect(isProblemLine('Installed 3 packages in 12ms')).toBe(false);
  });

  it('says which version went live in the last line', () => {
    const model = new LogModel();
    model.appendEvents([
      {
        offset: 0,
        event: 'result',
        build_id: '3f5a1c9e0b7d',
        deploy: {
          api: 'iris',
          endpoint: 'http://h/u/iris',
          version: '0.1.0',
          version_number: 3,
          build_id: '3f5a1c9e0b7d',
          unchanged: false
        }
      }
    ]);
    expect(model.plain(0)).toBe(
      'Version #3 (0.1.0, build 3f5a1c9e) is live at http://h/u/iris'
    );
    model.clear();
    model.appendEvents([
      {
        offset: 0,
        event: 'result',
        api: 'iris',
        endpoint: 'http://h/u/iris',
        version: '0.1.0',
        version_number: 3,
        build_id: '3f5a1c9e0b7d',
        unchanged: true
      }
    ]);
    expect(model.plain(0)).toBe(
      'Version #3 (0.1.0, build 3f5a1c9e) was live already at http://h/u/iris'
    );
  });

  it('shows errors and the endpoint of a result as lines of their own kind', () => {
    const model = new LogModel();
    model.appendEvents([
      {
        offset: 0,
        event: 'error',
        type: 'bad_requirements',
        message: 'line 2 is not a requirement'
      },
      {
        offset: 1,
        event: 'result',
        endpoint: 'http://127.0.0.1:9000/me/iris',
        api: 'iris'
      }
    ]);
    expect(model.kind(0)).toBe('error');
    expect(model.plain(0)).toBe('Error: line 2 is not a requirement');
    expect(model.kind(1)).toBe('result');
    expect(model.plain(1)).toBe('Live at http://127.0.0.1:9000/me/iris');
    expect(model.result).toEqual({
      endpoint: 'http://127.0.0.1:9000/me/iris',
      api: 'iris'
    });
  });

  it('finds the endpoint of hub build --deploy under "deploy"', () => {
    const model = new LogModel();
    model.appendEvents([
      { offset: 0, event: 'state', state: 'running' },
      {
        offset: 1,
        event: 'result',
        build_id: 'b',
        deploy: { api: 'iris', endpoint: 'http://h/u/iris' }
      }
    ]);
    expect(model.length).toBe(1);
    expect(model.plain(0)).toBe('Live at http://h/u/iris');
  });

  it('searches the plain text, case-insensitively', () => {
    const model = new LogModel();
    model.appendEvents([
      log('Installing \x1b[1mnumpy\x1b[0m'),
      log('done'),
      log('NumPy ready')
    ]);
    expect(model.search('numpy')).toEqual([0, 2]);
    expect(model.search('')).toEqual([]);
  });

  it('copies as plain text without escapes', () => {
    const model = new LogModel();
    model.appendEvents([log('\x1b[31mred\x1b[0m'), log('b')]);
    expect(model.toText()).toBe('red\nb');
  });

  it('holds 100,000 lines and drops the oldest beyond maxLines', () => {
    const model = new LogModel({ maxLines: 50000 });
    const events: JobEvent[] = [];
    for (let i = 0; i < 100000; i++) {
      events.push({
        offset: i,
        event: 'log',
        stream: 'stdout',
        line: `line ${i}`
      });
    }
    model.appendEvents(events);
    expect(model.length).toBe(50000);
    expect(model.dropped).toBe(50000);
    expect(model.line(0)).toBe('line 50000');
  });

  it('formats durations for people', () => {
    expect(formatSeconds(0.42)).toBe('0.4 s');
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(185)).toBe('3 min 05 s');
  });
});
