import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { HubApiError, requestAPI } from './request';
import { IServerStatus } from './tokens';
import { FRONTEND_VERSION } from './version';

/** The outcome of the version handshake between the frontend and the server extension. */
export interface IHandshake {
  ok: boolean;
  frontend: string;
  server: IServerStatus | null;
  /** A sentence for the user when something is missing or out of step. */
  problem: string | null;
}

/**
 * Ask the server extension for its versions and compare them with the frontend's.
 */
export async function handshake(
  fetchStatus: () => Promise<IServerStatus> = () =>
    requestAPI<IServerStatus>('status')
): Promise<IHandshake> {
  let server: IServerStatus;
  try {
    server = await fetchStatus();
  } catch (error) {
    const message =
      error instanceof HubApiError
        ? error.message
        : `Unexpected error: ${String(error)}`;
    return {
      ok: false,
      frontend: FRONTEND_VERSION,
      server: null,
      problem: message
    };
  }
  if (server.server_extension !== FRONTEND_VERSION) {
    return {
      ok: false,
      frontend: FRONTEND_VERSION,
      server,
      problem:
        `The server extension is version ${server.server_extension} but the frontend is ` +
        `${FRONTEND_VERSION}. Reinstall jupyter_hub_api so both match, then restart JupyterLab.`
    };
  }
  if (!server.cli) {
    return {
      ok: false,
      frontend: FRONTEND_VERSION,
      server,
      problem: `The hub CLI could not be run: ${server.cli_error ?? 'unknown error'}`
    };
  }
  return { ok: true, frontend: FRONTEND_VERSION, server, problem: null };
}

/**
 * A main-area panel that shows the versions of the three parts, or what is wrong with them.
 */
export class StatusPanel extends Widget {
  constructor(translator: ITranslator = nullTranslator) {
    super();
    this._trans = translator.load('jupyter_hub_api');
    this.id = 'hub-api-status';
    this.title.label = this._trans.__('Hub API');
    this.title.closable = true;
    this.addClass('jp-HubApi-status');
    this.node.setAttribute('data-testid', 'hub-api-status');
    this._render(null);
  }

  /** Run the handshake and show its outcome. */
  async refresh(): Promise<IHandshake> {
    const result = await handshake();
    this._render(result);
    return result;
  }

  private _render(result: IHandshake | null): void {
    const trans = this._trans;
    const node = this.node;
    node.replaceChildren();
    const heading = document.createElement('h2');
    heading.textContent = trans.__('Hub API for JupyterLab');
    node.appendChild(heading);
    if (result === null) {
      const p = document.createElement('p');
      p.textContent = trans.__('Checking the server extension…');
      node.appendChild(p);
      return;
    }
    if (result.problem) {
      const alert = document.createElement('div');
      alert.className = 'jp-HubApi-problem';
      alert.setAttribute('role', 'alert');
      alert.textContent = result.problem;
      node.appendChild(alert);
    }
    const table = document.createElement('table');
    table.className = 'jp-HubApi-versions';
    const rows: [string, string, string][] = [
      ['frontend', trans.__('Frontend extension'), result.frontend],
      [
        'server',
        trans.__('Server extension'),
        result.server?.server_extension ?? trans.__('unavailable')
      ],
      [
        'cli',
        trans.__('hub CLI'),
        result.server?.cli ?? trans.__('unavailable')
      ]
    ];
    for (const [key, label, value] of rows) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = label;
      const td = document.createElement('td');
      td.textContent = value;
      td.setAttribute('data-version', key);
      tr.append(th, td);
      table.appendChild(tr);
    }
    node.appendChild(table);
  }

  private _trans: TranslationBundle;
}
