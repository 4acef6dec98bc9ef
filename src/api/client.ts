/**
 * The typed client of the server extension's REST API. Every call goes through `requestAPI`
 * (one place for URLs, authentication and the `{"message", "reason"}` error shape).
 */
import { URLExt } from '@jupyterlab/coreutils';

import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE, HubApiError, requestAPI } from '../request';
import { SseParser } from './sse';
import { IServerStatus } from '../tokens';
import {
  IApiDetail,
  IApiKey,
  IApiLogLine,
  IApiSummary,
  IApiVersion,
  ICreateProjectRequest,
  IDeployResult,
  ICreateProjectResponse,
  IFolderListing,
  IInvocation,
  IJob,
  IMe,
  IProject,
  IQuota,
  IRuntimeSettings,
  IStreamEvent,
  IKernelChoice,
  ITemplate,
  ITemplatesAnswer,
  ITestInvocation,
  JobKind
} from './types';

/** Encode each segment of a relative path, keeping the slashes. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .filter(part => part.length > 0)
    .map(encodeURIComponent)
    .join('/');
}

function post<T>(endPoint: string, body?: unknown): Promise<T> {
  return requestAPI<T>(endPoint, {
    method: 'POST',
    body: body === undefined ? undefined : JSON.stringify(body)
  });
}

/** The server extension's REST API, one method per endpoint. */
export namespace HubClient {
  /** Versions of the server extension and the CLI. */
  export function status(): Promise<IServerStatus> {
    return requestAPI<IServerStatus>('status');
  }

  // -- jobs ---------------------------------------------------------------------------------

  /** Start a job on a project; answers at once (202) with the queued job. */
  export function startJob(kind: JobKind, project: string): Promise<IJob> {
    return post<IJob>('jobs', { kind, project });
  }

  /** Jobs, newest first (optionally of one project). */
  export async function listJobs(project?: string): Promise<IJob[]> {
    const query =
      project === undefined ? '' : URLExt.objectToQueryString({ project });
    const data = await requestAPI<{ jobs: IJob[] }>('jobs' + query);
    return data.jobs;
  }

  /** One job. */
  export function getJob(id: string): Promise<IJob> {
    return requestAPI<IJob>(`jobs/${encodeURIComponent(id)}`);
  }

  /** Ask a running job to stop (its whole process group). */
  export function cancelJob(id: string): Promise<IJob> {
    return post<IJob>(`jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** A new job doing what this one did. */
  export function rerunJob(id: string): Promise<IJob> {
    return post<IJob>(`jobs/${encodeURIComponent(id)}/rerun`);
  }

  // -- projects and files -------------------------------------------------------------------

  /** Projects found under the server root. */
  export async function listProjects(): Promise<IProject[]> {
    const data = await requestAPI<{ projects: IProject[] }>('projects');
    return data.projects;
  }

  /** Create a project (`hub init`), copying the model files by a job when there are any. */
  export function createProject(
    request: ICreateProjectRequest
  ): Promise<ICreateProjectResponse> {
    return post<ICreateProjectResponse>('projects', request);
  }

  /** The validated `hub_config.json` of a project. */
  export function projectConfig(path: string): Promise<Record<string, any>> {
    return requestAPI<Record<string, any>>(
      `projects/${encodePath(path)}/config`
    );
  }

  /** The templates, with their default requirements and main.py. */
  export async function templates(): Promise<ITemplate[]> {
    const data = await requestAPI<{ templates: ITemplate[] }>('templates');
    return data.templates;
  }

  /**
   * The templates with their requirements pinned to a kernel's installed versions: the
   * running kernel `kernelId` (a notebook's) or the kernelspec `kernel` ("default").
   */
  export function templatesFor(
    kernel: IKernelChoice = { kernel: 'default' }
  ): Promise<ITemplatesAnswer> {
    const query: Record<string, string> = {};
    if (kernel.kernelId) {
      query.kernel_id = kernel.kernelId;
    } else {
      query.kernel = kernel.kernel ?? 'default';
    }
    return requestAPI<ITemplatesAnswer>(
      'templates' + URLExt.objectToQueryString(query)
    );
  }

  /** A folder of the server root, with the sizes of its entries. */
  export function listFolder(path: string): Promise<IFolderListing> {
    return requestAPI<IFolderListing>(
      'files' + URLExt.objectToQueryString({ path })
    );
  }

  // -- the platform (the control plane's /api/v1/, passed through under /hub-api/platform/) ----

  /** Every API of the user, and the account's quota. */
  /** Who the user is on the platform, their plan and the gateway's address. */
  export function me(): Promise<IMe> {
    return requestAPI<IMe>('platform/me');
  }

  export function apis(): Promise<{ apis: IApiSummary[]; quota: IQuota }> {
    return requestAPI<{ apis: IApiSummary[]; quota: IQuota }>('platform/apis');
  }

  /** The versions of an API, newest first. */
  export async function versions(api: string): Promise<IApiVersion[]> {
    const data = await requestAPI<{ versions: IApiVersion[] }>(
      `platform/apis/${encodeURIComponent(api)}/versions`
    );
    return data.versions;
  }

  /** Make an earlier version live again (its number, label or build id). */
  export function rollback(
    api: string,
    version: string | number
  ): Promise<unknown> {
    return post(`platform/apis/${encodeURIComponent(api)}/rollback`, {
      version: String(version)
    });
  }

  /**
   * Change an API's scaling and limits: the platform deploys its live version again with
   * them (a new version; nothing is built or uploaded). Answers the deploy's result.
   */
  export function updateRuntime(
    api: string,
    changes: Partial<IRuntimeSettings>
  ): Promise<IDeployResult> {
    return requestAPI<IDeployResult>(
      `platform/apis/${encodeURIComponent(api)}/runtime`,
      { method: 'PATCH', body: JSON.stringify(changes) }
    );
  }

  /**
   * Delete an API for good: its versions, history and logs go, callers get 404 from then on
   * (the platform's `DELETE /api/v1/apis/{name}`; it waits for the calls in flight).
   */
  export function deleteApi(api: string): Promise<unknown> {
    return requestAPI(`platform/apis/${encodeURIComponent(api)}`, {
      method: 'DELETE'
    });
  }

  /** The newest invocations of an API. */
  export async function invocations(
    api: string,
    limit = 200
  ): Promise<IInvocation[]> {
    const data = await requestAPI<{ invocations: IInvocation[] }>(
      `platform/apis/${encodeURIComponent(api)}/invocations` +
        URLExt.objectToQueryString({ limit: String(limit) })
    );
    return data.invocations;
  }

  /** The newest lines the API's handler printed. */
  export async function apiLogs(
    api: string,
    tail = 200
  ): Promise<IApiLogLine[]> {
    const data = await requestAPI<{ lines: IApiLogLine[] }>(
      `platform/apis/${encodeURIComponent(api)}/logs` +
        URLExt.objectToQueryString({ tail: String(tail), limit: '5000' })
    );
    return data.lines;
  }

  /**
   * Send a GET or POST to an API through the server extension (the browser cannot reach the
   * platform's port itself), as any client would, with the key `keyId` (or the default key), or with no key at
   * all (`noKey`: what a caller without a key gets).
   */
  export function invoke(
    api: string,
    method: 'GET' | 'POST',
    input: unknown,
    keyId?: string,
    noKey = false
  ): Promise<ITestInvocation> {
    return post<ITestInvocation>(
      `platform/apis/${encodeURIComponent(api)}/invoke`,
      noKey ? { method, input, no_key: true } : { method, input, key_id: keyId }
    );
  }

  // -- console (issue 11.4): the API's detail, with its handler's input schema --
  /** One API as the platform describes it, with `handler` (input schema, streaming). */
  export function apiDetail(api: string): Promise<IApiDetail> {
    return requestAPI<IApiDetail>(`platform/apis/${encodeURIComponent(api)}`);
  }

  /**
   * POST `input` asking for the outputs as a stream (a generator handler): `onEvent` gets
   * each event as it arrives; answers null once the stream ended, or the API's answer when
   * it refused before streaming (not a generator, a bad input, 429...).
   */
  export async function invokeStream(
    api: string,
    input: unknown,
    key: { keyId?: string; noKey?: boolean },
    onEvent: (event: IStreamEvent) => void
  ): Promise<ITestInvocation | null> {
    const settings = ServerConnection.makeSettings();
    const url = URLExt.join(
      settings.baseUrl,
      API_NAMESPACE,
      `platform/apis/${encodeURIComponent(api)}/invoke`
    );
    const body = key.noKey
      ? { method: 'POST', input, no_key: true, stream: true }
      : { method: 'POST', input, key_id: key.keyId, stream: true };
    const response = await ServerConnection.makeRequest(
      url,
      { method: 'POST', body: JSON.stringify(body) },
      settings
    );
    const type = response.headers.get('Content-Type') ?? '';
    if (!type.startsWith('text/event-stream') || !response.body) {
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        throw new HubApiError(
          data?.message ?? `The server answered ${response.status}.`,
          response.status,
          data?.reason ?? ''
        );
      }
      return data as ITestInvocation;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      parser.push(decoder.decode(value, { stream: true })).forEach(onEvent);
    }
    parser.push(decoder.decode() + '\n\n').forEach(onEvent);
    return null;
  }
  // -- end console --

  /** The user's API keys (without their secrets). */
  export async function keys(): Promise<IApiKey[]> {
    const data = await requestAPI<{ keys: IApiKey[] }>('platform/keys');
    return data.keys;
  }

  /** A new key; the answer holds the secret. */
  export function createKey(
    name: string
  ): Promise<{ key: IApiKey; secret: string }> {
    return post<{ key: IApiKey; secret: string }>('platform/keys', { name });
  }

  /** The secret of a key. */
  export async function revealKey(id: string): Promise<string> {
    const data = await post<{ secret: string }>(
      `platform/keys/${encodeURIComponent(id)}/reveal`
    );
    return data.secret;
  }

  /** Enable or disable a key. */
  export async function setKeyEnabled(
    id: string,
    enabled: boolean
  ): Promise<IApiKey> {
    const data = await requestAPI<{ key: IApiKey }>(
      `platform/keys/${encodeURIComponent(id)}`,
      {
        method: 'PATCH',
        body: JSON.stringify({ enabled })
      }
    );
    return data.key;
  }

  /** Delete a key for good. */
  export function deleteKey(id: string): Promise<unknown> {
    return requestAPI(`platform/keys/${encodeURIComponent(id)}`, {
      method: 'DELETE'
    });
  }
}
