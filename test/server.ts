/**
 * The server extension's `/hub-api/platform/` answers, in the shapes the platform gives them
 * (`platform/control.py` `_summary`, `versions`, `invocations`, `logs`; `platform/keys.py`
 * `_public`; `server/handlers_platform.py` invoke), served to the real `HubClient` →
 * `requestAPI` → `ServerConnection` code path through the global `fetch`.
 */
import { IApiKey, IApiSummary } from '../src/api/types';

/** One API summary of `GET /api/v1/apis`. */
export function summary(overrides: Partial<IApiSummary> = {}): IApiSummary {
  const answer = {
    name: 'iris',
    user: 'root',
    endpoint: 'http://127.0.0.1:8765/root/iris',
    status: 'ready',
    workers: 1,
    busy: 0,
    load_error: null,
    live_version: {
      version: '0.1.0',
      version_number: 2,
      build_id:
        '3f5a1c9e0b7d4a2f8e6c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e',
      deployed_at: '2026-11-30T12:00:00Z'
    },
    month: '2026-11',
    calls_this_month: 3,
    errors_this_month: 0,
    failures_this_month: 1,
    error_rate: 0.25,
    latency: { p50_ms: 2.5, p95_ms: 9.1, p99_ms: 9.1, sampled: 3 },
    created_at: '2026-11-29T10:00:00Z',
    updated_at: '2026-11-30T12:00:00Z',
    // kept incrementally by the platform: one count per day of `month`
    calls_per_day: [2, 0, 1]
  };
  return { ...answer, ...overrides } as IApiSummary;
}

/** One key of `GET /api/v1/keys`. */
export function key(overrides: Partial<IApiKey> = {}): IApiKey {
  const answer = {
    id: 'k1',
    name: 'default',
    prefix: 'hub_ab12',
    enabled: true,
    created_at: '2026-11-29T10:00:00Z',
    last_used_at: null,
    masked: 'hub_ab12…'
  };
  return { ...answer, ...overrides } as IApiKey;
}

/** The quota of `GET /api/v1/apis`. */
export const QUOTA = {
  plan: 'free',
  monthly_calls: 1000,
  used: 3,
  remaining: 997,
  max_apis: 3,
  apis: 1,
  rate_limit_per_second: 5
};

/** A request the fake network saw. */
export interface IRequestSeen {
  method: string;
  path: string;
  query: string;
  body: any;
}

type Route = (
  request: IRequestSeen
) => [number, unknown] | Promise<[number, unknown]>;

/**
 * Answer `/hub-api/<path>` requests from `routes` ("METHOD path", path without the query);
 * anything else is the server extension's JSON 404. Answers the list of requests seen.
 */
export function serve(routes: Record<string, Route>): IRequestSeen[] {
  const seen: IRequestSeen[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request0 = new Request(input, init);
    const url = new URL(request0.url);
    const method = request0.method.toUpperCase();
    const path = url.pathname.replace(/^.*\/hub-api\//, '');
    const text = method === 'GET' ? '' : await request0.text();
    const request: IRequestSeen = {
      method,
      path,
      query: url.search,
      body: text ? JSON.parse(text) : undefined
    };
    seen.push(request);
    const route = routes[`${method} ${path}`];
    const [status, body] = route
      ? await route(request)
      : [
          404,
          {
            message: `No route ${method} /hub-api/${path}.`,
            reason: 'not_found'
          }
        ];
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  (globalThis as any).fetch = fetchImpl;
  return seen;
}

/** Wait until `check()` holds (a guard against hangs, not a timing). */
export async function until(
  check: () => boolean,
  what = 'the condition'
): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}.`);
    }
    await new Promise(r => setTimeout(r, 10));
  }
}
