/**
 * The test console's model: the request being written (method, JSON body, key), the answer of
 * the last call, and the same call as ready-to-copy code. The view renders it and calls
 * `send()`; the call itself goes through the server extension (`HubClient.invoke`).
 */
import { VDomModel } from '@jupyterlab/ui-components';

import { RJSFSchema } from '@rjsf/utils';

import { HubClient } from '../api/client';
import { IHandlerInput, IStreamEvent, ITestInvocation } from '../api/types';
import {
  bodyOfFormData,
  defaultInput,
  fitsSchema,
  InputForm,
  InputView
} from './inputForm';
import {
  curlSnippet,
  fetchSnippet,
  ISnippetRequest,
  pythonSnippet
} from './snippets';
import { DeploymentsModel } from './deployments';

/** Parse the editor's text: the value, or the sentence saying what is wrong. */
export function parseBody(text: string): { value?: unknown; error?: string } {
  if (!text.trim()) {
    return {
      error:
        'The body is empty; write a JSON value, e.g. [[5.1, 3.5, 1.4, 0.2]].'
    };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return {
      error: `The body is not valid JSON: ${(error as Error).message}.`
    };
  }
}

/** The key choice that calls without any key: what a caller without a key gets. */
export const NO_KEY = 'no-key';

/** The languages of the snippets, in the order of their tabs. */
export const SNIPPET_KINDS = ['curl', 'Python', 'JavaScript'] as const;
export type SnippetKind = (typeof SNIPPET_KINDS)[number];

const MAKERS: Record<SnippetKind, (r: ISnippetRequest) => string> = {
  curl: curlSnippet,
  Python: pythonSnippet,
  JavaScript: fetchSnippet
};

/** Where the last call is: nothing sent yet, on its way, answered, or failed. */
export type CallState =
  | { kind: 'none' }
  | { kind: 'pending'; method: 'GET' | 'POST' }
  | { kind: 'answer'; result: ITestInvocation }
  | { kind: 'problem'; message: string }
  | IStreamCall;

/** A streamed call (issue 16.2): the events so far, and where the stream is. */
export interface IStreamCall {
  kind: 'stream';
  events: IStreamEvent[];
  invocationId: string | null;
  /** Outputs received. */
  items: number;
  state: 'open' | 'ended' | 'failed';
  /** The error the stream ended with ("Type: message"). */
  error?: string;
}

/** The next state of a streamed call after `event` arrived. */
export function streamStep(
  call: IStreamCall,
  event: IStreamEvent
): IStreamCall {
  const data = (event.data ?? {}) as any;
  const next: IStreamCall = { ...call, events: [...call.events, event] };
  switch (event.event) {
    case 'start':
      next.invocationId = data.invocation_id ?? call.invocationId;
      break;
    case 'message':
      next.items = call.items + 1;
      break;
    case 'end':
      next.state = 'ended';
      next.items = typeof data.items === 'number' ? data.items : next.items;
      break;
    case 'error': {
      next.state = 'failed';
      const err = data.error ?? {};
      next.error = `${err.type ?? 'Error'}: ${err.message ?? 'the stream failed'}`;
      break;
    }
  }
  return next;
}

/** The test console of one API. */
export class TestConsoleModel extends VDomModel {
  constructor(
    readonly api: string,
    readonly deployments: DeploymentsModel,
    options: { initialBody?: string; onInvoked?: () => void } = {}
  ) {
    super();
    this._body = options.initialBody ?? '[[5.1, 3.5, 1.4, 0.2]]';
    this._initialBody = this._body;
    this._onInvoked = options.onInvoked;
    deployments.stateChanged.connect(this._onDeployments, this);
    this._onDeployments();
  }

  // -- the input form (issue 11.4) ----------------------------------------------------------

  /** What the live version's handler takes (null until known, or for an older build). */
  get handler(): IHandlerInput | null {
    return this._handler;
  }

  /** The form of the input, when the live version has an input schema. */
  get form(): InputForm | null {
    return this._form;
  }

  /** The view of the input: the form (when there is a schema) or the JSON editor. */
  get view(): InputView {
    return this._form ? this._view : 'json';
  }
  set view(value: InputView) {
    if (value !== this._view) {
      this._view = value;
      this._emit();
    }
  }

  /** Whether the live version's handler streams (a generator) and the call is a POST. */
  get canStream(): boolean {
    return !!this._handler?.streams && this._method === 'POST';
  }

  /** Whether Send asks for the outputs as a stream (on by default for a generator). */
  get stream(): boolean {
    return this.canStream && this._stream;
  }
  set stream(value: boolean) {
    if (value !== this._stream) {
      this._stream = value;
      if (this._call.kind !== 'pending' && !this._streaming) {
        this._call = { kind: 'none' };
      }
      this._emit();
    }
  }

  /** The form changed the input: the JSON text follows. */
  setFormData(value: unknown): void {
    this.body = bodyOfFormData(value);
  }

  /** Fetch the live version's handler description (again after a new version went live). */
  async refreshHandler(): Promise<void> {
    const build =
      this.deployments.api(this.api)?.live_version?.build_id ?? null;
    this._handlerBuild = build;
    if (build === null) {
      return;
    }
    let handler: IHandlerInput | null = null;
    try {
      handler = (await HubClient.apiDetail(this.api)).handler ?? null;
    } catch {
      handler = null; // the JSON editor stays: it needs no schema
    }
    if (this.isDisposed || build !== this._handlerBuild) {
      return; // disposed, or another version went live meanwhile: its answer counts
    }
    this._handler = handler;
    const schema = (handler?.input_schema ?? null) as RJSFSchema | null;
    if (schema) {
      // The console's example body, untouched, that the handler would not take: the schema's
      // own first input instead.
      const untouched = this._body === this._initialBody;
      const parsed = parseBody(this._body);
      this._form = new InputForm(schema, this._body);
      if (untouched && (parsed.error || !fitsSchema(schema, parsed.value))) {
        this._body = bodyOfFormData(defaultInput(schema));
        this._initialBody = this._body;
        this._form.follow(this._body);
      }
    } else {
      this._form = null;
    }
    this._emit();
  }

  private _onDeployments(): void {
    const build =
      this.deployments.api(this.api)?.live_version?.build_id ?? null;
    if (build !== this._handlerBuild) {
      void this.refreshHandler();
    }
    this._emit();
  }

  /** The endpoint as the platform reports it (the view may show it rewritten). */
  get endpoint(): string {
    return this.deployments.api(this.api)?.endpoint ?? '';
  }

  get method(): 'GET' | 'POST' {
    return this._method;
  }
  set method(value: 'GET' | 'POST') {
    if (value !== this._method) {
      this._method = value;
      this._call = { kind: 'none' };
      this._emit();
    }
  }

  /** The JSON text of the body (sent with POST only). */
  get body(): string {
    return this._body;
  }
  set body(text: string) {
    if (text !== this._body) {
      this._body = text;
      this._form?.follow(text);
      // An answer to another body would now be misleading.
      if (this._call.kind !== 'pending') {
        this._call = { kind: 'none' };
      }
      this._emit();
    }
  }

  /** Why the body cannot be sent, or null (always null for GET, which has no body). */
  get bodyError(): string | null {
    return this._method === 'POST'
      ? (parseBody(this._body).error ?? null)
      : null;
  }

  /**
   * The key the call uses: the one picked, `NO_KEY` (call without one), else the first
   * enabled key ('' = the user has none).
   */
  get keyId(): string {
    if (this._keyId === NO_KEY) {
      return NO_KEY;
    }
    const keys = this.deployments.enabledKeys;
    return keys.some(k => k.id === this._keyId)
      ? this._keyId
      : (keys[0]?.id ?? '');
  }
  set keyId(id: string) {
    if (id !== this._keyId) {
      this._keyId = id;
      // An answer got with another key would now be misleading.
      if (this._call.kind !== 'pending') {
        this._call = { kind: 'none' };
      }
      this._emit();
    }
  }

  /** Whether the snippets hold the key's secret instead of a placeholder. */
  get includeKey(): boolean {
    return (
      this._includeKey &&
      this.keyId !== NO_KEY &&
      this.deployments.revealed.has(this.keyId)
    );
  }

  /** Put the key's secret into the snippets (revealing it) or take it out. */
  async setIncludeKey(include: boolean): Promise<void> {
    this._includeKey = include;
    if (include && this.keyId && this.keyId !== NO_KEY) {
      await this.deployments.reveal(this.keyId);
    }
    this._emit();
  }

  get snippetKind(): SnippetKind {
    return this._snippetKind;
  }
  set snippetKind(kind: SnippetKind) {
    this._snippetKind = kind;
    this._emit();
  }

  /**
   * The call as code in the chosen language, with the endpoint shown (`endpoint` rewritten by
   * the settings); null while the body is not valid JSON (there is no call to show).
   */
  snippet(endpoint: string): string | null {
    let body: unknown = undefined;
    if (this._method === 'POST') {
      const parsed = parseBody(this._body);
      if (parsed.error) {
        return null;
      }
      body = parsed.value;
    }
    return MAKERS[this._snippetKind]({
      endpoint,
      method: this._method,
      body,
      stream: this.stream,
      apiKey: this.includeKey
        ? (this.deployments.revealed.get(this.keyId) ?? null)
        : null
    });
  }

  /** The state of the last call. */
  get call(): CallState {
    return this._call;
  }

  /** Whether Send can be pressed (a key to use, a valid body, no call on its way). */
  get canSend(): boolean {
    return (
      this.keyId !== '' &&
      this.bodyError === null &&
      this._call.kind !== 'pending' &&
      !this._streaming
    );
  }

  /** Send the request; answers the API's answer (null when it could not be sent). */
  async send(): Promise<ITestInvocation | null> {
    const method = this._method;
    const error = this.bodyError;
    if (error) {
      this._call = { kind: 'problem', message: error };
      this._emit();
      return null;
    }
    const keyId = this.keyId;
    if (!keyId) {
      this._call = {
        kind: 'problem',
        message: 'Create or enable an API key first (Keys tab).'
      };
      this._emit();
      return null;
    }
    const body = method === 'POST' ? JSON.parse(this._body) : undefined;
    if (this.stream) {
      return this._sendStream(body, keyId);
    }
    this._call = { kind: 'pending', method };
    this._emit();
    try {
      const result =
        keyId === NO_KEY
          ? await HubClient.invoke(this.api, method, body, undefined, true)
          : await HubClient.invoke(this.api, method, body, keyId);
      this._call = { kind: 'answer', result };
      this._onInvoked?.();
      return result;
    } catch (error) {
      this._call = { kind: 'problem', message: (error as Error).message };
      return null;
    } finally {
      this._emit();
    }
  }

  /** The streamed call: each event shown as it arrives. */
  private async _sendStream(
    body: unknown,
    keyId: string
  ): Promise<ITestInvocation | null> {
    let call: IStreamCall = {
      kind: 'stream',
      events: [],
      invocationId: null,
      items: 0,
      state: 'open'
    };
    this._call = call;
    this._streaming = true;
    this._emit();
    try {
      const refused = await HubClient.invokeStream(
        this.api,
        body,
        keyId === NO_KEY ? { noKey: true } : { keyId },
        event => {
          call = streamStep(call, event);
          this._call = call;
          this._emit();
        }
      );
      if (refused) {
        this._call = { kind: 'answer', result: refused };
        return refused;
      }
      if (call.state === 'open') {
        this._call = {
          ...call,
          state: 'failed',
          error:
            'The stream ended without its end event (the connection was cut).'
        };
      }
      return null;
    } catch (error) {
      this._call = { kind: 'problem', message: (error as Error).message };
      return null;
    } finally {
      this._streaming = false;
      this._onInvoked?.();
      this._emit();
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.deployments.stateChanged.disconnect(this._onDeployments, this);
    }
    super.dispose();
  }

  private _emit(): void {
    if (!this.isDisposed) {
      this.stateChanged.emit();
    }
  }

  private _method: 'GET' | 'POST' = 'POST';
  private _body: string;
  private _keyId = '';
  private _includeKey = false;
  private _snippetKind: SnippetKind = 'curl';
  private _call: CallState = { kind: 'none' };
  private _onInvoked?: () => void;
  private _initialBody: string;
  private _handler: IHandlerInput | null = null;
  private _handlerBuild: string | null = null;
  private _form: InputForm | null = null;
  private _view: InputView = 'form';
  private _stream = true;
  private _streaming = false;
}
