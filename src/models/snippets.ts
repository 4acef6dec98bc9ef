/**
 * Ready-to-copy client code for a deployed API: `curl`, Python `requests` (the shape of the
 * reference guide's snippet, so users recognise it) and JavaScript `fetch`.
 */

/** What a snippet needs. */
export interface ISnippetRequest {
  endpoint: string;
  method: 'GET' | 'POST';
  /** The JSON body (POST only). */
  body?: unknown;
  /** The API key, or null to leave a placeholder. */
  apiKey?: string | null;
  /** Ask for a generator's outputs as Server-Sent Events (POST only; console, issue 16.2). */
  stream?: boolean;
}

/** The placeholder put where the key goes when it is not revealed. */
export const KEY_PLACEHOLDER = 'YOUR API KEY';

function keyOf(request: ISnippetRequest): string {
  return request.apiKey || KEY_PLACEHOLDER;
}

/** Quote a string for a POSIX shell (single quotes; a quote inside becomes '\''). */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A Python string literal (JSON's escaping is valid Python for these strings). */
function pyString(text: string): string {
  return JSON.stringify(text);
}

/** The body as JSON text, or "null" when there is none. */
function bodyJson(request: ISnippetRequest): string {
  return JSON.stringify(request.body === undefined ? null : request.body);
}

/** A `curl` command line. */
export function curlSnippet(request: ISnippetRequest): string {
  const stream = request.stream && request.method === 'POST';
  const lines = [
    // -N: print each event as it arrives (no output buffering)
    `curl ${stream ? '-N ' : ''}-X ${request.method} ${shellQuote(request.endpoint)}`,
    `  -H ${shellQuote(`x-api-key: ${keyOf(request)}`)}`,
    `  -H 'Content-Type: application/json'`,
    ...(stream ? [`  -H 'Accept: text/event-stream'`] : [])
  ];
  if (request.method === 'POST') {
    lines.push(`  -d ${shellQuote(bodyJson(request))}`);
  }
  return lines.join(' \\\n');
}

/** Python with `requests`, as in the reference guide. */
export function pythonSnippet(request: ISnippetRequest): string {
  const head = [
    'import json',
    'import requests',
    '',
    `API_KEY = ${pyString(keyOf(request))}`,
    `endpoint = ${pyString(request.endpoint)}`,
    '',
    'headers = {',
    '    "x-api-key": API_KEY,',
    '    "Content-Type": "application/json"',
    '}',
    ''
  ];
  if (request.method === 'GET') {
    return [
      ...head,
      '# Ping the API: loads the model if it is not loaded yet',
      'print(requests.get(endpoint, headers=headers).json())'
    ].join('\n');
  }
  if (request.stream) {
    return [
      ...head.slice(0, -2),
      '    "Content-Type": "application/json",',
      '    "Accept": "text/event-stream"',
      '}',
      '',
      `payload = json.loads(${pyString(bodyJson(request))})`,
      '',
      '# Each output as the handler yields it (Server-Sent Events)',
      'with requests.post(endpoint, headers=headers, data=json.dumps(payload), stream=True) as response:',
      '    event = "message"',
      '    for line in response.iter_lines(decode_unicode=True):',
      '        if line.startswith("event:"):',
      '            event = line[6:].strip()',
      '        elif line.startswith("data:"):',
      '            print(event, json.loads(line[5:]))',
      '        elif not line:',
      '            event = "message"'
    ].join('\n');
  }
  // The payload is written as JSON text and parsed, so any JSON value is valid Python here.
  return [
    ...head,
    `payload = json.loads(${pyString(bodyJson(request))})`,
    '',
    'response = requests.post(endpoint, headers=headers, data=json.dumps(payload)).json()',
    '',
    "if response.get('statusCode') == 200:",
    "    output = response['body']['output']",
    'else:',
    '    output = response',
    '',
    'print(output)'
  ].join('\n');
}

/** JavaScript `fetch` (browsers and Node 18+). */
export function fetchSnippet(request: ISnippetRequest): string {
  const stream = request.stream && request.method === 'POST';
  const options = [
    `  method: '${request.method}',`,
    '  headers: {',
    `    'x-api-key': ${JSON.stringify(keyOf(request))},`,
    "    'Content-Type': 'application/json'" + (stream ? ',' : ''),
    ...(stream ? ["    Accept: 'text/event-stream'"] : []),
    '  }' + (request.method === 'POST' ? ',' : '')
  ];
  if (request.method === 'POST') {
    options.push(`  body: JSON.stringify(${bodyJson(request)})`);
  }
  if (stream) {
    return [
      `const response = await fetch(${JSON.stringify(request.endpoint)}, {`,
      ...options,
      '});',
      '// Each event as it arrives (Server-Sent Events)',
      'const reader = response.body.getReader();',
      'const decoder = new TextDecoder();',
      'for (;;) {',
      '  const { done, value } = await reader.read();',
      '  if (done) break;',
      '  console.log(decoder.decode(value, { stream: true }));',
      '}'
    ].join('\n');
  }
  return [
    `const response = await fetch(${JSON.stringify(request.endpoint)}, {`,
    ...options,
    '});',
    'const result = await response.json();',
    'console.log(result.statusCode === 200 ? result.body.output ?? result.body : result);'
  ].join('\n');
}
