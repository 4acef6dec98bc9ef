/**
 * Server-Sent Events, read as they arrive: the test console's streamed call (issue 16.2).
 * The wire format is the gateway's (ARCHITECTURE.md "Streaming"): `event: start`, one
 * `data: <output JSON>` per output, then `event: end` or `event: error`.
 */
import { IStreamEvent } from './types';

/** Splits a text stream into events; `push` answers the events the new text completed. */
export class SseParser {
  push(text: string): IStreamEvent[] {
    this._buffer += text.replace(/\r\n?/g, '\n');
    const events: IStreamEvent[] = [];
    let end: number;
    while ((end = this._buffer.indexOf('\n\n')) >= 0) {
      const block = this._buffer.slice(0, end);
      this._buffer = this._buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) {
          event = line.slice(6).trim();
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
      if (data.length) {
        const text = data.join('\n');
        let value: unknown = text;
        try {
          value = JSON.parse(text);
        } catch {
          // not JSON: kept as the text it is
        }
        events.push({ event, data: value });
      }
    }
    return events;
  }

  private _buffer = '';
}
