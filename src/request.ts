import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The URL namespace of the server extension. */
export const API_NAMESPACE = 'hub-api';

/**
 * An error answered by the server extension, with the body's `message` and `reason`.
 */
export class HubApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string = ''
  ) {
    super(message);
    this.name = 'HubApiError';
  }
}

/**
 * Call the server extension's REST API and decode its JSON answer.
 *
 * Errors come back as `HubApiError` with the server's own sentence, or a clear one when the
 * server extension is not there at all (a 404 on the namespace) or cannot be reached.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new HubApiError(
      `The Jupyter server could not be reached: ${(error as Error).message}`,
      0,
      'network'
    );
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 404 && (data === null || !data.reason)) {
      throw new HubApiError(
        'The Hub API server extension is not installed or not enabled on this Jupyter server. ' +
          'Install it with "pip install jupyter_hub_api" and restart JupyterLab.',
        404,
        'missing_server_extension'
      );
    }
    const message =
      (data && (data.message as string)) ||
      `The server answered ${response.status} ${response.statusText}.`;
    throw new HubApiError(message, response.status, data?.reason ?? '');
  }
  return data as T;
}

/**
 * The `ws(s)://` URL of a WebSocket endpoint of the server extension, with the same
 * authentication as the REST calls (the token as a query parameter when one is set, the
 * cookie otherwise, as JupyterLab's own kernel sockets do).
 */
export function websocketURL(
  endPoint: string,
  query: Record<string, string | number> = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    params[key] = String(value);
  }
  if (settings.token && settings.appendToken) {
    params.token = settings.token;
  }
  const search = URLExt.objectToQueryString(params);
  return URLExt.join(settings.wsUrl, API_NAMESPACE, endPoint) + search;
}

/**
 * Open a WebSocket to the server extension, through the settings' own WebSocket class
 * (so tests and other front ends can swap it).
 */
export function openSocket(
  endPoint: string,
  query: Record<string, string | number> = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): WebSocket {
  return new settings.WebSocket(websocketURL(endPoint, query, settings));
}
