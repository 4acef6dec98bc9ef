/**
 * The test console of one API: GET or POST with a JSON body, the answer, and the same call as
 * ready-to-copy `curl`, Python `requests` and JavaScript `fetch`. A view of `TestConsoleModel`
 * (which makes the call); the JSON body is edited in JupyterLab's own code editor.
 */
import { IEditorServices } from '@jupyterlab/codeeditor';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  FormComponent,
  HTMLSelect,
  VDomRenderer
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { formValidator, InputView } from '../models/inputForm';
import { NO_KEY, SNIPPET_KINDS, TestConsoleModel } from '../models/testConsole';
import { copyWithNotice, Endpoint, Hint, Problem } from './parts';
import { createTextEditor, ITextEditor } from './textEditor';

/** A JSON text editor: JupyterLab's code editor when there is one, a text area otherwise. */
export type IJsonEditor = ITextEditor;

/**
 * Make the JSON editor of the console, named `label` for assistive technology and described
 * by the element `describedBy` (how to leave it and send).
 */
export function createJsonEditor(
  services: IEditorServices | null,
  initial: string,
  label: string,
  describedBy?: string
): IJsonEditor {
  return createTextEditor(services, {
    initial,
    label,
    describedBy,
    mimeType: 'application/json',
    className: 'jp-HubApi-jsonEditor',
    testid: 'json-editor',
    rows: 6
  });
}

let consoleCount = 0;

/** The test console. */
export class TestConsole extends VDomRenderer<TestConsoleModel> {
  constructor(
    model: TestConsoleModel,
    private _endpointOf: (endpoint: string) => string,
    private _trans: TranslationBundle,
    editorServices: IEditorServices | null = null
  ) {
    super(model);
    this.title.label = _trans.__('Test');
    this.addClass('jp-HubApi-testConsole');
    this.node.setAttribute('data-testid', 'test-console');
    this._editor = createJsonEditor(
      editorServices,
      model.body,
      _trans.__('JSON body of the request'),
      this._helpId
    );
    this._editor.onChange(() => (this.model.body = this._editor.getValue()));
    // The form rewrites the body: the JSON editor shows what it wrote (issue 11.4).
    model.stateChanged.connect(() => {
      if (this._editor.getValue() !== model.body) {
        this._editor.setValue(model.body);
      }
    });
    // Ctrl+Enter (or Cmd+Enter) sends from the editor, before the editor sees the key (it
    // would add a line).
    this._editor.node.addEventListener(
      'keydown',
      (event: KeyboardEvent) => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          event.stopPropagation();
          void this.model.send();
        }
      },
      true
    );
  }

  /** The endpoint as shown (rewritten by the settings). */
  get endpoint(): string {
    return this._endpointOf(this.model.endpoint);
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._editor.dispose();
    }
    super.dispose();
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const model = this.model;
    const keys = model.deployments.enabledKeys;
    const endpoint = this.endpoint;
    const snippet = model.snippet(endpoint);
    const bodyError = model.bodyError;
    return (
      <>
        <div className="jp-HubApi-row">
          <HTMLSelect
            aria-label={trans.__('Method')}
            data-testid="test-method"
            value={model.method}
            options={['POST', 'GET']}
            onChange={event =>
              (model.method = event.currentTarget.value as 'GET' | 'POST')
            }
          />
          <Endpoint url={endpoint} />
          <span className="jp-HubApi-spacer" />
          <label className="jp-HubApi-row">
            {trans.__('Key')}
            <HTMLSelect
              aria-label={trans.__('API key')}
              data-testid="test-key"
              value={model.keyId}
              options={[
                ...(keys.length
                  ? []
                  : [
                      {
                        label: trans.__('No enabled key'),
                        value: '',
                        disabled: true
                      }
                    ]),
                ...keys.map(k => ({
                  label: `${k.name} (${k.prefix}…)`,
                  value: k.id
                })),
                {
                  label: trans.__('No key (what a caller without one gets)'),
                  value: NO_KEY
                }
              ]}
              onChange={event => (model.keyId = event.currentTarget.value)}
            />
          </label>
        </div>
        <div
          className="jp-HubApi-field"
          style={model.method === 'GET' ? { display: 'none' } : undefined}
        >
          {this._inputViews()}
          <label
            id={this._labelId}
            style={model.view === 'form' ? { display: 'none' } : undefined}
          >
            {trans.__('JSON body')}
          </label>
          <div
            ref={this._mountEditor}
            aria-labelledby={this._labelId}
            style={model.view === 'form' ? { display: 'none' } : undefined}
          />
          <div
            className="jp-HubApi-hint"
            id={this._helpId}
            style={model.view === 'form' ? { display: 'none' } : undefined}
          >
            {trans.__(
              'Tab indents. Escape then Tab leaves the editor; Ctrl+Enter sends.'
            )}
          </div>
          <div
            className="jp-HubApi-fieldError"
            role="alert"
            data-testid="body-error"
          >
            {bodyError ?? ''}
          </div>
        </div>
        {model.method === 'GET' ? (
          <Hint
            text={trans.__(
              'A GET sends no body: it wakes the API (loads the model) and checks that it answers.'
            )}
          />
        ) : null}
        <div className="jp-HubApi-row">
          <Button
            className="jp-mod-styled jp-mod-accept"
            data-testid="test-send"
            disabled={!model.canSend}
            title={
              keys.length
                ? trans.__('Send the request (Ctrl+Enter in the body)')
                : trans.__('Create an API key first (Keys tab).')
            }
            onClick={() => void model.send()}
          >
            {trans.__('Send')}
          </Button>
          {model.canStream ? (
            <label className="jp-HubApi-follow">
              <input
                type="checkbox"
                data-testid="test-stream"
                checked={model.stream}
                onChange={event => (model.stream = event.currentTarget.checked)}
              />
              {trans.__(
                'Stream the outputs (the handler is a generator: Server-Sent Events)'
              )}
            </label>
          ) : null}
        </div>
        <div
          className="jp-HubApi-response"
          data-testid="test-response"
          aria-live="polite"
        >
          {this._response()}
        </div>
        <h2>{trans.__('Call it from your code')}</h2>
        <div className="jp-HubApi-row">
          <div className="jp-HubApi-snippetTabs" role="tablist">
            {SNIPPET_KINDS.map(kind => (
              <button
                key={kind}
                type="button"
                role="tab"
                className={`jp-HubApi-snippetTab${kind === model.snippetKind ? ' jp-mod-current' : ''}`}
                aria-selected={kind === model.snippetKind}
                data-snippet={kind}
                onClick={() => (model.snippetKind = kind)}
              >
                {kind}
              </button>
            ))}
          </div>
          <span className="jp-HubApi-spacer" />
          <label className="jp-HubApi-follow">
            <input
              type="checkbox"
              data-testid="snippet-include-key"
              checked={model.includeKey}
              disabled={!model.keyId}
              onChange={event =>
                void model
                  .setIncludeKey(event.currentTarget.checked)
                  .catch(() => undefined)
              }
            />
            {trans.__('Include my key')}
          </label>
          <Button
            small
            minimal
            data-testid="snippet-copy"
            disabled={snippet === null}
            onClick={() =>
              snippet !== null &&
              copyWithNotice(snippet, trans.__('Snippet copied.'))
            }
          >
            {trans.__('Copy')}
          </Button>
        </div>
        {snippet === null ? (
          <Hint
            text={trans.__('Write a valid JSON body to see the call as code.')}
          />
        ) : (
          <pre className="jp-HubApi-code" data-testid="snippet" tabIndex={0}>
            {snippet}
          </pre>
        )}
      </>
    );
  }

  /**
   * The "Form" and "JSON" tabs and the form, when the live version has an input schema
   * (issue 11.4); nothing otherwise (the JSON editor alone, as without a schema).
   */
  private _inputViews(): React.ReactNode {
    const trans = this._trans;
    const model = this.model;
    const form = model.form;
    if (!form) {
      return null;
    }
    const views: [InputView, string][] = [
      ['form', trans.__('Form')],
      ['json', trans.__('JSON')]
    ];
    const source =
      model.handler?.input_source === 'hub_config'
        ? trans.__('from input_schema in hub_config.json')
        : model.handler?.input_source === 'decorator'
          ? trans.__('from @hub_handler(input_schema=...) in main.py')
          : trans.__("from the handler's type hints");
    return (
      <>
        <div className="jp-HubApi-row">
          <div
            className="jp-HubApi-snippetTabs"
            role="tablist"
            aria-label={trans.__('Input')}
          >
            {views.map(([view, label]) => (
              <button
                key={view}
                type="button"
                role="tab"
                className={`jp-HubApi-snippetTab${view === model.view ? ' jp-mod-current' : ''}`}
                aria-selected={view === model.view}
                data-input-view={view}
                onClick={() => (model.view = view)}
              >
                {label}
              </button>
            ))}
          </div>
          <span className="jp-HubApi-hint">{source}</span>
        </div>
        {model.view === 'form' ? (
          <div className="jp-HubApi-inputForm" data-testid="input-form">
            {form.note ? <Hint text={trans.__(form.note)} /> : null}
            <FormComponent
              schema={form.schema}
              formData={form.formData as any}
              validator={formValidator as any}
              liveValidate
              showErrorList={false}
              compact
              onChange={event => model.setFormData(event.formData)}
            />
          </div>
        ) : null}
      </>
    );
  }

  private _response(): React.ReactNode {
    const trans = this._trans;
    const call = this.model.call;
    switch (call.kind) {
      case 'pending':
        return (
          <Hint
            text={
              call.method === 'GET'
                ? trans.__('Waking the API (the first call loads the model)…')
                : trans.__('Calling…')
            }
          />
        );
      case 'problem':
        return <Problem message={call.message} />;
      case 'stream': {
        // console (issue 16.2): each event as it arrives
        const head =
          call.state === 'open'
            ? trans.__('Streaming… %1 output(s) so far', call.items)
            : call.state === 'ended'
              ? trans.__('Stream ended: %1 output(s)', call.items)
              : trans.__('Stream failed after %1 output(s)', call.items);
        return (
          <>
            <div className="jp-HubApi-row">
              <strong
                className={
                  call.state === 'failed' ? 'jp-mod-error' : 'jp-mod-ok'
                }
                data-testid="stream-status"
                data-state={call.state}
              >
                {head}
              </strong>
              {call.invocationId ? (
                <span
                  className="jp-HubApi-hint"
                  data-testid="stream-invocation"
                >
                  {trans.__('invocation %1', call.invocationId)}
                </span>
              ) : null}
            </div>
            {call.error ? <Problem message={call.error} /> : null}
            <ol
              className="jp-HubApi-streamEvents"
              data-testid="stream-events"
              aria-label={trans.__('Events of the stream')}
              tabIndex={0}
            >
              {call.events.map((e, i) => (
                <li
                  key={i}
                  data-event={e.event}
                  className={e.event === 'error' ? 'jp-mod-error' : undefined}
                >
                  {e.event === 'message'
                    ? JSON.stringify(e.data)
                    : `${e.event}: ${JSON.stringify(e.data)}`}
                </li>
              ))}
            </ol>
          </>
        );
      }
      case 'answer': {
        const { result } = call;
        const ok = result.status >= 200 && result.status < 300;
        return (
          <>
            <div className="jp-HubApi-row">
              <strong
                className={ok ? 'jp-mod-ok' : 'jp-mod-error'}
                data-testid="test-status"
              >
                {`HTTP ${result.status}`}
              </strong>
              <span className="jp-HubApi-hint">
                {trans.__('%1 ms', Math.round(result.duration_ms))}
              </span>
            </div>
            <pre
              className="jp-HubApi-code"
              data-testid="test-body"
              tabIndex={0}
            >
              {JSON.stringify(result.body, null, 2)}
            </pre>
          </>
        );
      }
      default:
        return null;
    }
  }

  /** Puts the editor's node into the slot React renders (once: a stable callback). */
  private _mountEditor = (slot: HTMLDivElement | null): void => {
    if (slot && this._editor.node.parentNode !== slot) {
      slot.appendChild(this._editor.node);
    }
  };

  private _editor: IJsonEditor;
  private _labelId = `hub-api-json-label-${++consoleCount}`;
  private _helpId = `hub-api-json-help-${consoleCount}`;
}
