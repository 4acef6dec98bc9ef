/**
 * The JSON shapes of the server extension's REST API (`/hub-api/`), as the frontend reads them.
 * The server extension's own answers are written here by hand, after
 * `jupyter_hub_api/server/openapi.yaml`; the platform's answers it passes through come from the
 * platform's generated document (below).
 */
import { components } from './generated/platform';

type PlatformSchemas = components['schemas'];

/** Where a job is in its life. Final states never change again. */
export type JobState =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelling'
  | 'cancelled'
  | 'interrupted';

/** What a job does. */
export type JobKind = 'build' | 'deploy' | 'build+deploy' | 'model-files';

/** The states after which a job changes no more. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set<JobState>([
  'succeeded',
  'failed',
  'cancelled',
  'interrupted'
]);

/** True once the job can change no more. */
export function isFinal(state: JobState): boolean {
  return FINAL_STATES.has(state);
}

/** One job record (`GET /hub-api/jobs/<id>`). */
export interface IJob {
  id: string;
  kind: JobKind;
  /** The project folder, relative to the server root. */
  project: string;
  state: JobState;
  params?: Record<string, unknown>;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
  exit_code?: number | null;
  /** How many events the job's log holds: the offset of the next one. */
  event_count: number;
  error?: { type?: string; message?: string } | null;
  result?: Record<string, any> | null;
  rerun_of?: string | null;
}

/** One event of a job's log: the CLI's event (ARCHITECTURE.md (CLI events)) plus offset and arrival time. */
export type JobEvent = { offset: number; time?: number } & (
  | {
      event: 'step';
      name: string;
      status: 'started' | 'done' | 'failed';
      seconds?: number;
    }
  | { event: 'log'; stream: 'stdout' | 'stderr'; line: string }
  | { event: 'progress'; step: string; done: number; total: number | null }
  | ({ event: 'result' } & Record<string, any>)
  | { event: 'error'; type?: string; message: string }
  | { event: 'state'; state: JobState }
);

/**
 * The API and endpoint a deploy produced, from a job's result: `hub deploy` puts them at the
 * top level, `hub build --deploy` under `deploy` (and may repeat the endpoint at the top).
 */
export function deployOutcome(
  result: Record<string, any> | null | undefined
): { api: string; endpoint: string } | null {
  if (!result) {
    return null;
  }
  const nested =
    result.deploy && typeof result.deploy === 'object' ? result.deploy : {};
  const endpoint = nested.endpoint ?? result.endpoint;
  if (typeof endpoint !== 'string') {
    return null;
  }
  // The API's name is the endpoint's last path segment when the result does not say it.
  const api =
    nested.api ?? result.api ?? endpoint.split('/').filter(Boolean).pop();
  return typeof api === 'string' ? { api, endpoint } : null;
}

/** A message of the job events WebSocket. */
export type JobStreamMessage =
  { type: 'job'; job: IJob } | { type: 'events'; events: JobEvent[] };

/** A message of the jobs-list WebSocket (`/hub-api/jobs/watch`). */
export type JobsWatchMessage =
  | { type: 'jobs'; jobs: IJob[] }
  | { type: 'job'; job: IJob }
  | { type: 'deleted'; id: string };

/** One entry of a folder listing (`GET /hub-api/files?path=`). */
export interface IFileEntry {
  name: string;
  /** Path relative to the server root. */
  path: string;
  type: 'file' | 'directory';
  /** Size in bytes (null for a folder). */
  size: number | null;
  modified?: string;
  /** A folder that holds a hub_config.json. */
  is_project?: boolean;
  /** A folder saved by MLflow (it holds an MLmodel file): what it says about itself. */
  mlflow?: IMlflowInfo;
}

/** An MLflow model folder, as `GET /hub-api/files` describes it (`project/mlflow.py`). */
export interface IMlflowInfo {
  flavors?: string[];
  /** "sklearn" (the flavor's own file format) or "pyfunc" (mlflow.pyfunc). */
  loader?: string;
  /** The requirements the API gets: MLflow's recorded ones (MLflow itself left out or slimmed). */
  requirements?: string[];
  mlflow_version?: string | null;
  python_version?: string | null;
  /** The src/main.py `hub init --from-mlflow` writes for it. */
  main_py?: string;
  /** Why the folder cannot be deployed as it is (one sentence), if it cannot. */
  error?: string;
}

/** A folder listing. */
export interface IFolderListing {
  path: string;
  entries: IFileEntry[];
  /** True when the folder holds more entries than the server lists. */
  truncated?: boolean;
}

/** A project found under the server root (`GET /hub-api/projects`). */
export interface IProject {
  name: string;
  /** Folder relative to the server root. */
  path: string;
  version?: string | null;
  /** Why its hub_config.json cannot be read, if it cannot. */
  error?: string | null;
  last_build?: string | null;
}

/** A template the wizard offers (`GET /hub-api/templates`). */
export interface ITemplate {
  name: string;
  label?: string;
  requirements: string;
  main_py: string;
  /** The requirements pinned to the kernel's installed versions (with `?kernel...`). */
  pinned?: {
    requirements: string[];
    text: string;
    /** Where each line came from. */
    origins: Record<string, string>;
    /** Modules or names that could not be pinned, and why. */
    unresolved: Record<string, string>;
  };
}

/** Which kernel pins the wizard's requirements: a running one, or a kernelspec by name. */
export interface IKernelChoice {
  kernelId?: string;
  /** A kernelspec name, or "default" (the server's default kernel). */
  kernel?: string;
}

/** The kernel that answered (`GET /hub-api/templates?kernel...`). */
export interface IKernelInfo {
  name: string;
  display_name: string;
  /** "notebook" (a running kernel), "default" or "named". */
  source: string;
  python: string;
  python_version?: string | null;
}

/** What `GET /hub-api/templates` answers. */
export interface ITemplatesAnswer {
  templates: ITemplate[];
  kernel?: IKernelInfo;
  /** Why no kernel could pin the requirements (one sentence). */
  kernel_error?: string;
}

/** What `POST /hub-api/projects` takes. */
export interface ICreateProjectRequest {
  name: string;
  template: string;
  /** Folder relative to the server root in which to create the project ("" = the root). */
  parent: string;
  /** Files or folders (relative to the server root) to copy into `model/`. */
  model_files: string[];
  /** The text of `src/requirements.txt`; omitted: the template's. */
  requirements?: string;
  /** The text of `src/main.py`; omitted: the template's. */
  main_py?: string;
  /** An MLflow model folder (relative to the root): `hub init --from-mlflow`. */
  from_mlflow?: string;
}

/** What `POST /hub-api/projects` answers. */
export interface ICreateProjectResponse {
  /** The new project (its `path` is relative to the server root). */
  project: IProject;
  /** The files `hub init` wrote. */
  files?: string[];
  /** The job that copies the model files, when there were any. */
  job?: IJob | null;
}

/*
 * The platform's answers, passed through by the server extension under `/hub-api/platform/`:
 * generated from the platform's OpenAPI document (itself generated from its code) into
 * `generated/platform.ts` by `jlpm gen:types`; named here as the frontend knows them.
 */

/** The account's quota (`quota` of `GET /hub-api/platform/apis` and `/usage`). */
export type IQuota = PlatformSchemas['Quota'];

/** Latency percentiles of this month (milliseconds). */
export type ILatency = PlatformSchemas['Latency'];

/**
 * A deployed API as the deployments panel shows it: one entry of
 * `GET /hub-api/platform/apis` (the platform's `GET /api/v1/apis`, passed through).
 */
export type IApiSummary = PlatformSchemas['ApiSummary'];

/** The scaling and limits of a version, as it runs (PATCH .../runtime changes them). */
export interface IRuntimeSettings {
  min_workers: number;
  max_workers: number;
  idle_seconds: number;
  timeout_seconds: number;
  async_timeout_seconds: number;
  memory_mb: number;
}

/** The answer of a deploy, a rollback or a runtime change. */
export type IDeployResult = PlatformSchemas['DeployResult'];

/** `GET /api/v1/me`: the user, their plan and the gateway's address. */
export type IMe = PlatformSchemas['Me'];

/** One version of an API. */
export type IApiVersion = PlatformSchemas['Version'];

/** One invocation of an API, newest first. */
export type IInvocation = PlatformSchemas['Invocation'];

/** One line an API's handler printed. */
export type IApiLogLine = PlatformSchemas['LogLine'];

/** One API key; the secret itself only comes from `reveal` or `create`. */
export type IApiKey = PlatformSchemas['Key'];

/** What the test invocation answers: the API's own HTTP answer. */
export interface ITestInvocation {
  /** The HTTP status the API answered. */
  status: number;
  /** The decoded JSON body (the envelope `{"statusCode", "body"}`). */
  body: unknown;
  /** Time the call took, as the server extension measured it. */
  duration_ms: number;
  /** The endpoint that was called. */
  endpoint?: string;
}

// -- console (issue 11.4 / 16.2) --
/** One API with its quota and what its live version's handler takes (`handler`). */
export type IApiDetail = PlatformSchemas['ApiDetail'];

/** The live version's input schema and whether the handler streams (a generator). */
export type IHandlerInput = PlatformSchemas['HandlerInput'];

/** One Server-Sent Event of a streamed call: `start`, `message` (one output), `end`, `error`. */
export interface IStreamEvent {
  event: string;
  data: unknown;
}
// -- end console --
