import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { JobsWatcher } from './api/jobsWatch';
import type { IHandshake } from './statusPanel';

/** Versions reported by `GET /hub-api/status`. */
export interface IServerStatus {
  /** Version of the Python package that holds the server extension. */
  server_extension: string;
  /** Version printed by `hub --version`, or null when the CLI could not be run. */
  cli: string | null;
  /** Why the CLI could not be run, when it could not. */
  cli_error?: string | null;
}

/** Command ids of the extension. */
export namespace CommandIDs {
  /** The versions panel (the handshake with the server extension). */
  export const openStatus = 'hub-api:status';
  /** The wizard; args: `path` (a file or folder to preselect), `parent`. */
  export const newProject = 'hub-api:new';
  /** Start a job on a project and open its log; args: `project`, `kind`. */
  export const deploy = 'hub-api:deploy';
  /** Build and deploy the project of the current notebook. */
  export const deployNotebook = 'hub-api:deploy-notebook';
  /** Open the log panel of a job; args: `jobId`. */
  export const openLog = 'hub-api:open-log';
  /** The deployments panel in the main area. */
  export const openDeployments = 'hub-api:deployments';
  /** One API's details; args: `api`, `tab` ("test", "keys", ...). */
  export const openApi = 'hub-api:open-api';
  /** Run the handler of the current src/main.py in a kernel (Try in kernel). */
  export const tryInKernel = 'hub-api:try-in-kernel';
}

/** The user's settings of the extension (schema/plugin.json). */
export interface IHubApiSettings {
  /** Shown instead of the platform's own address in endpoints and snippets ("" = as reported). */
  platformUrl: string;
  /** The template the wizard starts with. */
  defaultTemplate: string;
  /** Open a log panel when a job starts. */
  openLogOnStart: boolean;
  /** Keep the newest line in sight. */
  followTail: boolean;
  /** Lines kept per log panel (older ones are dropped); 0 keeps all. */
  maxLogLines: number;
}

/** The defaults of the settings. */
export const DEFAULT_SETTINGS: IHubApiSettings = {
  platformUrl: '',
  defaultTemplate: 'sklearn',
  openLogOnStart: true,
  followTail: true,
  maxLogLines: 200000
};

/** What the core plugin shares with the others. */
export interface IHubApi {
  /** The current settings. */
  readonly settings: IHubApiSettings;
  /** Fired when the user changes a setting. */
  readonly settingsChanged: ISignal<IHubApi, IHubApiSettings>;
  /** The jobs of the server, kept current over a WebSocket. */
  readonly jobs: JobsWatcher;
  /** The version handshake with the server extension (run once at start). */
  readonly handshake: Promise<IHandshake>;
  /** Rewrite an endpoint to the platform URL of the settings, when one is set. */
  publicEndpoint(endpoint: string): string;
}

/** The token of the core plugin. */
export const IHubApi = new Token<IHubApi>(
  'jupyter-hub-api:IHubApi',
  'Settings, jobs and handshake of Hub API for JupyterLab.'
);
