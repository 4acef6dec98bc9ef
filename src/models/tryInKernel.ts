/**
 * Try in kernel, free of any DOM and kernel: the request the kernel runs, the one line of
 * Python that runs it, and the reading of the kernel's answer (a display_data message of the
 * MIME type `TRY_MIME`, written by `jupyter_hub_api/notebook/try_in_kernel.py`).
 */
import { parseBody } from './testConsole';

/** The MIME type of the runner's result (try_in_kernel.MIME). */
export const TRY_MIME = 'application/vnd.jupyter-hub-api.try+json';

/** The version of the request and result shapes (try_in_kernel.VERSION). */
export const TRY_VERSION = 1;

/** The session type of Try in kernel's kernels (shown in JupyterLab's Running panel). */
export const TRY_SESSION_TYPE = 'hub-api-try';

/** What each template's handler takes, as in its main.py's "Try it before building". */
export const TEMPLATE_EXAMPLES: Record<string, string> = {
  sklearn: '[[5.1, 3.5, 1.4, 0.2]]',
  pytorch: '[[0.1, 0.2, 0.3]]',
  keras: '[[0.1, 0.2, 0.3]]',
  transformers: '"What a great day"',
  blank: '"hi"'
};

/** The example input of a template (the test console's default for others). */
export function exampleInput(template?: string | null): string {
  return (template && TEMPLATE_EXAMPLES[template]) || '[[5.1, 3.5, 1.4, 0.2]]';
}

/** The request `try_in_kernel.run(**request)` takes. */
export interface ITryRequest {
  source: string;
  body: string;
  /** The project folder (server-relative) for a project that exists; '' for the wizard. */
  project: string;
  /** The folder the kernel was started in (its working directory), server-relative. */
  session_dir: string;
  name?: string;
  template?: string;
  model_files?: string[];
  version: number;
}

/** What the runner answers (see try_in_kernel.run). */
export interface ITryResult {
  version: number;
  status: 'ok' | 'error' | 'load_failed' | 'bad_request' | 'interrupted';
  output?: unknown;
  streamed?: boolean;
  error?: { type: string; message: string; status?: number };
  traceback: string | null;
  stdout: string;
  stderr: string;
  load_seconds: number | null;
  call_seconds: number | null;
  model_dir: string | null;
  src_dir: string | null;
  handler_style: 'hub_handler' | 'batch' | 'event' | null;
  python: string;
}

/**
 * The project that `path` (a document's server-relative path) is the `src/main.py` of, or
 * null for any other file.
 */
export function projectOfMainPy(path: string): string | null {
  const clean = path.replace(/^[^/:]+:/, '');
  const match = /^(?:(.*)\/)?src\/main\.py$/.exec(clean);
  if (!match) {
    return null;
  }
  return match[1] ?? '';
}

/**
 * The session of a project's kernel: one per project, keyed by a path beside the project
 * folder, so the wizard (where the folder does not exist yet) and the editor share it. The
 * kernel starts in the folder that holds the project (the runner works in src/).
 */
export function sessionPath(project: string): string {
  const parts = project.split('/').filter(Boolean);
  const name = parts.pop() ?? 'project';
  return [...parts, `${name}.try-in-kernel`].join('/');
}

/** The folder a session's kernel starts in: the folder of its path. */
export function sessionDir(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

/** The one statement the kernel executes: the request as a JSON literal, never as code. */
export function kernelCode(request: ITryRequest): string {
  // The request as ASCII-only JSON (json.loads joins the escaped surrogate pairs again; no
  // U+2028 for IPython's line splitting to cut at), then as a string literal: JSON's string
  // literal of ASCII text is also Python's.
  const json = JSON.stringify(request).replace(
    /[\u007f-\uffff]/g,
    c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')
  );
  const literal = JSON.stringify(json);
  return (
    "__import__('jupyter_hub_api.notebook.try_in_kernel', fromlist=['main'])" +
    `.main(__import__('json').loads(${literal}))`
  );
}

/** Why the request cannot be sent (the body is not JSON), or null. */
export function bodyProblem(body: string): string | null {
  return parseBody(body).error ?? null;
}

/** Read the runner's result out of a display_data bundle; null when it is not one. */
export function readResult(data: Record<string, unknown>): ITryResult | null {
  const value = data[TRY_MIME];
  if (!value || typeof value !== 'object') {
    return null;
  }
  const result = value as ITryResult;
  return typeof result.status === 'string' ? result : null;
}

/**
 * The sentence for a kernel `error` reply of the statement itself (the runner catches the
 * handler's errors): the kernel's Python cannot import the runner, or something else.
 */
export function kernelErrorSentence(
  ename: string,
  evalue: string,
  kernelName: string
): string {
  if (
    (ename === 'ModuleNotFoundError' || ename === 'ImportError') &&
    /jupyter_hub_api|'hub'/.test(evalue)
  ) {
    return `The kernel "${kernelName}" cannot import Hub API's runner (${evalue}); install it in that kernel's environment with %pip install jupyter-hub-api, or choose another kernel.`;
  }
  return `The kernel could not run the handler: ${ename}: ${evalue}.`;
}

/** Seconds for people: "850 ms", "2.4 s". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '–';
  }
  if (seconds < 1) {
    return `${Math.max(1, Math.round(seconds * 1000))} ms`;
  }
  return `${seconds.toFixed(1)} s`;
}

/** The result's headline: what happened, in one sentence. */
export function headline(result: ITryResult): string {
  const timing = `import ${formatSeconds(result.load_seconds)}, call ${formatSeconds(result.call_seconds)}`;
  switch (result.status) {
    case 'ok':
      return result.streamed
        ? `The handler streamed ${(result.output as unknown[]).length} outputs (${timing}).`
        : `The handler answered (${timing}).`;
    case 'error':
      return result.error?.status
        ? `The handler answered status ${result.error.status}: ${result.error.message}`
        : `The handler raised ${result.error?.type}: ${result.error?.message}`;
    case 'load_failed':
      return result.error?.message ?? 'Importing main.py failed.';
    case 'interrupted':
      return 'The kernel was interrupted while the handler ran.';
    default:
      return result.error?.message ?? 'The request could not be run.';
  }
}

/** The output as people read it: pretty JSON. */
export function prettyOutput(result: ITryResult): string {
  return JSON.stringify(result.output ?? null, null, 2);
}
