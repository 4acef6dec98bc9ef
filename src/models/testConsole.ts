/**
 * The test console's model: the request being written (method, JSON body, key), the answer of
 * the last call, and the same call as ready-to-copy code. The view renders it and calls
 * `send()`; the call itself goes through the server extension (`HubClient.invoke`).
 */
import { VDomModel } from '@jupyterlab/ui-components';

import { HubClient } from '../api/client';
import { ITestInvocation } from '../api/types';
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
  | { kind: 'problem'; message: string };

/** The test console of one API. */
export class TestConsoleModel extends VDomModel {
  constructor(
    readonly api: string,
    readonly deployments: DeploymentsModel,
    options: { initialBody?: string; onInvoked?: () => void } = {}
  ) {
    super();
    this._body = options.initialBody ?? '[[5.1, 3.5, 1.4, 0.2]]';
    this._onInvoked = options.onInvoked;
    deployments.stateChanged.connect(this._emit, this);
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
      this._call.kind !== 'pending'
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

  dispose(): void {
    if (!this.isDisposed) {
      this.deployments.stateChanged.disconnect(this._emit, this);
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
}
