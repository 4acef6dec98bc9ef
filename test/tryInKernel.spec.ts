import {
  exampleInput,
  headline,
  ITryResult,
  kernelCode,
  kernelErrorSentence,
  projectOfMainPy,
  readResult,
  sessionDir,
  sessionPath,
  TRY_MIME
} from '../src/models/tryInKernel';

const base: ITryResult = {
  version: 1,
  status: 'ok',
  traceback: null,
  stdout: '',
  stderr: '',
  load_seconds: 1.234,
  call_seconds: 0.0042,
  model_dir: '/w/p/model',
  src_dir: '/w/p/src',
  handler_style: 'hub_handler',
  python: '/usr/bin/python3'
};

describe('Try in kernel', () => {
  it('knows a project from its src/main.py only', () => {
    expect(projectOfMainPy('work/iris/src/main.py')).toBe('work/iris');
    expect(projectOfMainPy('RTC:work/iris/src/main.py')).toBe('work/iris');
    expect(projectOfMainPy('src/main.py')).toBe('');
    expect(projectOfMainPy('work/iris/src/utils.py')).toBeNull();
    expect(projectOfMainPy('work/iris/main.py')).toBeNull();
    expect(projectOfMainPy('work/mysrc/main.py')).toBeNull();
  });

  it('keys one session per project beside its folder', () => {
    expect(sessionPath('work/iris')).toBe('work/iris.try-in-kernel');
    expect(sessionPath('iris')).toBe('iris.try-in-kernel');
    expect(sessionDir(sessionPath('work/iris'))).toBe('work');
    expect(sessionDir(sessionPath('iris'))).toBe('');
  });

  it('passes the request as a string literal, never as code', () => {
    const request = {
      source: 'print("\'\'\'")\n"""\\x""" # \u2028 end \u{1F600} é',
      body: '{"a": "\\"); import os #"}',
      project: 'p',
      session_dir: '',
      version: 1
    };
    const code = kernelCode(request);
    const literal = /loads\((.*)\)\)$/s.exec(code)![1];
    expect(literal).toMatch(/^[\x20-\x7e]+$/);
    // A JSON string literal is a Python string literal with the same value.
    expect(JSON.parse(JSON.parse(literal))).toEqual(request);
    expect(code.split('\n')).toHaveLength(1);
  });

  it('reads only its own MIME type', () => {
    expect(readResult({ [TRY_MIME]: base })).toEqual(base);
    expect(readResult({ 'text/plain': 'x' })).toBeNull();
    expect(readResult({ [TRY_MIME]: { no: 'status' } })).toBeNull();
  });

  it('says what to install when the kernel cannot import the runner', () => {
    expect(
      kernelErrorSentence(
        'ModuleNotFoundError',
        "No module named 'jupyter_hub_api'",
        'python3'
      )
    ).toBe(
      "The kernel \"python3\" cannot import Hub API's runner (No module named 'jupyter_hub_api'); install it in that kernel's environment with %pip install jupyter-hub-api, or choose another kernel."
    );
    expect(kernelErrorSentence('NameError', 'x', 'python3')).toBe(
      'The kernel could not run the handler: NameError: x.'
    );
  });

  it('heads each outcome with one sentence', () => {
    expect(headline(base)).toBe(
      'The handler answered (import 1.2 s, call 4 ms).'
    );
    expect(headline({ ...base, streamed: true, output: [1, 2] })).toBe(
      'The handler streamed 2 outputs (import 1.2 s, call 4 ms).'
    );
    expect(
      headline({
        ...base,
        status: 'error',
        error: { type: 'ZeroDivisionError', message: 'division by zero' }
      })
    ).toBe('The handler raised ZeroDivisionError: division by zero');
    expect(
      headline({
        ...base,
        status: 'error',
        error: { type: 'HandlerStatus', message: 'no', status: 400 }
      })
    ).toBe('The handler answered status 400: no');
  });

  it('starts from the template example input', () => {
    expect(exampleInput('transformers')).toBe('"What a great day"');
    expect(exampleInput(null)).toBe('[[5.1, 3.5, 1.4, 0.2]]');
  });
});
