/**
 * The test console of one API: GET or POST with a JSON body, the answer, and the same call as
 * ready-to-copy `curl`, Python `requests` and JavaScript `fetch`.
 */
import { CodeEditor, IEditorServices } from '@jupyterlab/codeeditor';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { HubClient } from '../api/client';
import { IApiKey, ITestInvocation } from '../api/types';
import {
  curlSnippet,
  fetchSnippet,
  ISnippetRequest,
  pythonSnippet
} from '../models/snippets';
import { button, copyText, h } from './dom';

/** A JSON text editor: JupyterLab's code editor when there is one, a text area otherwise. */
export interface IJsonEditor {
  readonly node: HTMLElement;
  getValue(): string;
  setValue(text: string): void;
  onChange(callback: () => void): void;
  dispose(): void;
}

/** Make the JSON editor of the console. */
export function createJsonEditor(
  services: IEditorServices | null,
  initial: string
): IJsonEditor {
  if (services) {
    const host = h('div', {
      class: 'jp-HubApi-jsonEditor',
      attrs: { 'data-testid': 'json-editor' }
    });
    const model = new CodeEditor.Model({ mimeType: 'application/json' });
    model.sharedModel.setSource(initial);
    const editor = services.factoryService.newInlineEditor({ host, model });
    return {
      node: host,
      getValue: () => model.sharedModel.getSource(),
      setValue: text => model.sharedModel.setSource(text),
      onChange: callback => model.sharedModel.changed.connect(() => callback()),
      dispose: () => {
        editor.dispose();
        model.dispose();
      }
    };
  }
  const area = h('textarea', {
    class: 'jp-mod-styled jp-HubApi-jsonEditor',
    attrs: { rows: '6', spellcheck: 'false', 'data-testid': 'json-editor' }
  });
  area.value = initial;
  return {
    node: area,
    getValue: () => area.value,
    setValue: text => (area.value = text),
    onChange: callback => area.addEventListener('input', callback),
    dispose: () => undefined
  };
}

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

/** The test console. `keys()` lists the keys; `reveal` gives a key's secret. */
export class TestConsole extends Widget {
  constructor(
    private _api: string,
    private _endpoint: string,
    private _trans: TranslationBundle,
    options: {
      editorServices?: IEditorServices | null;
      keys: () => readonly IApiKey[];
      reveal: (id: string) => Promise<string>;
      onInvoked?: () => void;
      initialBody?: string;
    }
  ) {
    super();
    const trans = _trans;
    this._keys = options.keys;
    this._reveal = options.reveal;
    this._onInvoked = options.onInvoked;
    this.addClass('jp-HubApi-testConsole');
    this.node.setAttribute('data-testid', 'test-console');
    this._method = h('select', {
      class: 'jp-mod-styled',
      attrs: { 'aria-label': trans.__('Method'), 'data-testid': 'test-method' }
    });
    for (const m of ['POST', 'GET']) {
      this._method.appendChild(h('option', { text: m, attrs: { value: m } }));
    }
    this._method.addEventListener('change', () => this._update());
    this._keySelect = h('select', {
      class: 'jp-mod-styled',
      attrs: { 'aria-label': trans.__('API key'), 'data-testid': 'test-key' }
    });
    this._keySelect.addEventListener('change', () => this._update());
    this._includeKey = h('input', {
      attrs: { type: 'checkbox', 'data-testid': 'snippet-include-key' }
    });
    this._includeKey.addEventListener(
      'change',
      () => void this._toggleKeyInSnippets()
    );
    this._editor = createJsonEditor(
      options.editorServices ?? null,
      options.initialBody ?? '[[5.1, 3.5, 1.4, 0.2]]'
    );
    this._editor.onChange(() => this._update());
    this._bodyError = h('div', {
      class: 'jp-HubApi-fieldError',
      attrs: { role: 'alert', 'data-testid': 'body-error' }
    });
    this._send = button(trans.__('Send'), () => void this.send(), {
      accept: true,
      testid: 'test-send'
    });
    this._response = h('div', {
      class: 'jp-HubApi-response',
      attrs: { 'data-testid': 'test-response', 'aria-live': 'polite' }
    });
    this._snippetTabs = h('div', {
      class: 'jp-HubApi-snippetTabs',
      attrs: { role: 'tablist' }
    });
    this._snippet = h('pre', {
      class: 'jp-HubApi-code',
      attrs: { 'data-testid': 'snippet' }
    });
    const copySnippet = button(
      trans.__('Copy'),
      () => void copyText(this._snippet.textContent ?? ''),
      { testid: 'snippet-copy' }
    );
    this._bodyRow = h(
      'div',
      { class: 'jp-HubApi-field' },
      h('label', { text: trans.__('JSON body') }),
      this._editor.node,
      this._bodyError
    );
    this.node.append(
      h(
        'div',
        { class: 'jp-HubApi-row' },
        this._method,
        h('code', { class: 'jp-HubApi-endpoint', text: _endpoint }),
        h('span', { class: 'jp-HubApi-spacer' }),
        h('label', {}, trans.__('Key') + ' ', this._keySelect)
      ),
      this._bodyRow,
      h('div', { class: 'jp-HubApi-row' }, this._send),
      this._response,
      h('h3', { text: trans.__('Call it from your code') }),
      h(
        'div',
        { class: 'jp-HubApi-row' },
        this._snippetTabs,
        h('span', { class: 'jp-HubApi-spacer' }),
        h(
          'label',
          { class: 'jp-HubApi-follow' },
          this._includeKey,
          trans.__('Include my key')
        ),
        copySnippet
      ),
      this._snippet
    );
    this.refreshKeys();
    this._update();
  }

  /** The endpoint shown and used in snippets. */
  set endpoint(value: string) {
    this._endpoint = value;
    this.node.querySelector('.jp-HubApi-endpoint')!.textContent = value;
    this._update();
  }

  /** Fill the key list again (after keys changed). */
  refreshKeys(): void {
    const current = this._keySelect.value;
    const keys = this._keys().filter(k => k.enabled);
    this._keySelect.replaceChildren(
      ...keys.map(k =>
        h('option', {
          text: `${k.name} (${k.prefix}…)`,
          attrs: { value: k.id }
        })
      )
    );
    if (keys.some(k => k.id === current)) {
      this._keySelect.value = current;
    }
    this._send.disabled = keys.length === 0;
    this._send.title = keys.length
      ? ''
      : this._trans.__('Create an API key first (Keys tab).');
  }

  /** Send the request; answers the API's answer (also shown). */
  async send(): Promise<ITestInvocation | null> {
    const trans = this._trans;
    const method = this._method.value as 'GET' | 'POST';
    let body: unknown = undefined;
    if (method === 'POST') {
      const parsed = parseBody(this._editor.getValue());
      if (parsed.error) {
        this._bodyError.textContent = parsed.error;
        return null;
      }
      body = parsed.value;
    }
    const keyId = this._keySelect.value;
    if (!keyId) {
      this._response.replaceChildren(
        h('div', {
          class: 'jp-HubApi-problem',
          text: trans.__('Create or enable an API key first (Keys tab).')
        })
      );
      return null;
    }
    this._send.disabled = true;
    this._response.replaceChildren(
      h('p', {
        class: 'jp-HubApi-hint',
        text:
          method === 'GET'
            ? trans.__('Waking the API (the first call loads the model)…')
            : trans.__('Calling…')
      })
    );
    try {
      const result = await HubClient.invoke(this._api, method, body, keyId);
      const ok = result.status >= 200 && result.status < 300;
      this._response.replaceChildren(
        h(
          'div',
          { class: 'jp-HubApi-row' },
          h('strong', {
            text: `HTTP ${result.status}`,
            class: ok ? 'jp-mod-ok' : 'jp-mod-error',
            attrs: { 'data-testid': 'test-status' }
          }),
          h('span', {
            class: 'jp-HubApi-hint',
            text: trans.__('%1 ms', Math.round(result.duration_ms))
          })
        ),
        h('pre', {
          class: 'jp-HubApi-code',
          text: JSON.stringify(result.body, null, 2),
          attrs: { 'data-testid': 'test-body' }
        })
      );
      this._onInvoked?.();
      return result;
    } catch (error) {
      this._response.replaceChildren(
        h('div', {
          class: 'jp-HubApi-problem',
          attrs: { role: 'alert' },
          text: (error as Error).message
        })
      );
      return null;
    } finally {
      this._send.disabled = false;
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._editor.dispose();
    }
    super.dispose();
  }

  private async _secret(keyId: string): Promise<string> {
    let secret = this._secrets.get(keyId);
    if (!secret) {
      secret = await this._reveal(keyId);
      this._secrets.set(keyId, secret);
    }
    return secret;
  }

  private async _toggleKeyInSnippets(): Promise<void> {
    if (this._includeKey.checked && this._keySelect.value) {
      try {
        await this._secret(this._keySelect.value);
      } catch {
        this._includeKey.checked = false;
      }
    }
    this._update();
  }

  private _update(): void {
    const method = this._method.value as 'GET' | 'POST';
    this._bodyRow.hidden = method === 'GET';
    let body: unknown = undefined;
    if (method === 'POST') {
      const parsed = parseBody(this._editor.getValue());
      this._bodyError.textContent = parsed.error ?? '';
      body = parsed.error ? null : parsed.value;
    }
    const request: ISnippetRequest = {
      endpoint: this._endpoint,
      method,
      body,
      apiKey: this._includeKey.checked
        ? (this._secrets.get(this._keySelect.value) ?? null)
        : null
    };
    const makers: [string, (r: ISnippetRequest) => string][] = [
      ['curl', curlSnippet],
      ['Python', pythonSnippet],
      ['JavaScript', fetchSnippet]
    ];
    this._snippetTabs.replaceChildren(
      ...makers.map(([label]) =>
        h('button', {
          class: `jp-HubApi-snippetTab${label === this._snippetKind ? ' jp-mod-current' : ''}`,
          text: label,
          attrs: {
            type: 'button',
            role: 'tab',
            'aria-selected': String(label === this._snippetKind),
            'data-snippet': label
          },
          on: {
            click: () => {
              this._snippetKind = label;
              this._update();
            }
          }
        })
      )
    );
    const maker = makers.find(([label]) => label === this._snippetKind)![1];
    this._snippet.textContent = maker(request);
  }

  private _keys: () => readonly IApiKey[];
  private _reveal: (id: string) => Promise<string>;
  private _onInvoked?: () => void;
  private _method: HTMLSelectElement;
  private _keySelect: HTMLSelectElement;
  private _includeKey: HTMLInputElement;
  private _editor: IJsonEditor;
  private _bodyError: HTMLDivElement;
  private _bodyRow: HTMLDivElement;
  private _send: HTMLButtonElement;
  private _response: HTMLDivElement;
  private _snippetTabs: HTMLDivElement;
  private _snippet: HTMLPreElement;
  private _snippetKind = 'curl';
  private _secrets = new Map<string, string>();
}
