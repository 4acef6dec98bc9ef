/**
 * The test console's stream view (issue 16.2): Server-Sent Events split as they arrive in any
 * chunking, the call's state after each event, and the streaming snippets.
 */
import { SseParser } from '../src/api/sse';
import {
  curlSnippet,
  fetchSnippet,
  pythonSnippet
} from '../src/models/snippets';
import { IStreamCall, streamStep } from '../src/models/testConsole';

const WIRE =
  'event: start\ndata: {"invocation_id": "inv-1"}\n\n' +
  'data: {"token": 0}\n\n' +
  'data: {"token": 1}\n\n' +
  'event: error\ndata: {"invocation_id": "inv-1", "status": 500, "error": {"type": "RuntimeError", "message": "broke"}}\n\n';

describe('SseParser', () => {
  it('gives the same events whatever the chunks', () => {
    const whole = new SseParser().push(WIRE);
    expect(whole.map(e => e.event)).toEqual([
      'start',
      'message',
      'message',
      'error'
    ]);
    for (const size of [1, 3, 7, 20]) {
      const parser = new SseParser();
      const got = [];
      for (let i = 0; i < WIRE.length; i += size) {
        got.push(...parser.push(WIRE.slice(i, i + size)));
      }
      expect(got).toEqual(whole);
    }
  });

  it('reads CRLF lines and keeps data that is not JSON as text', () => {
    expect(new SseParser().push('event: x\r\ndata: hi\r\n\r\n')).toEqual([
      { event: 'x', data: 'hi' }
    ]);
    expect(new SseParser().push('data: {"a"')).toEqual([]); // not complete yet
  });
});

describe('streamStep', () => {
  it('counts outputs and ends with the end or the error event', () => {
    let call: IStreamCall = {
      kind: 'stream',
      events: [],
      invocationId: null,
      items: 0,
      state: 'open'
    };
    for (const event of new SseParser().push(WIRE)) {
      call = streamStep(call, event);
    }
    expect(call.invocationId).toBe('inv-1');
    expect(call.items).toBe(2);
    expect(call.state).toBe('failed');
    expect(call.error).toBe('RuntimeError: broke');
    expect(call.events).toHaveLength(4);
    const ended = streamStep(
      { ...call, state: 'open', error: undefined },
      { event: 'end', data: { invocation_id: 'inv-1', items: 2 } }
    );
    expect(ended.state).toBe('ended');
  });
});

describe('streaming snippets', () => {
  const request = {
    endpoint: 'http://127.0.0.1:8470/root/chat',
    method: 'POST' as const,
    body: { n: 3 },
    stream: true
  };
  it('asks for text/event-stream in each language', () => {
    expect(curlSnippet(request)).toMatch(/^curl -N -X POST/);
    expect(curlSnippet(request)).toContain("-H 'Accept: text/event-stream'");
    expect(pythonSnippet(request)).toContain('stream=True');
    expect(pythonSnippet(request)).toContain('"Accept": "text/event-stream"');
    expect(fetchSnippet(request)).toContain("Accept: 'text/event-stream'");
    expect(fetchSnippet(request)).toContain('getReader()');
    expect(curlSnippet({ ...request, stream: false })).not.toContain('-N');
  });
});
