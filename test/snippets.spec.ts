import {
  curlSnippet,
  fetchSnippet,
  KEY_PLACEHOLDER,
  pythonSnippet,
  shellQuote
} from '../src/models/snippets';

// Node's child_process (the test project has no @types/node).
declare const require: (id: string) => any;
const { execFileSync } = require('child_process') as {
  execFileSync: (file: string, args: string[]) => { toString(): string };
};

const request = {
  endpoint: 'http://127.0.0.1:9000/alice/sentiment-analyser',
  method: 'POST' as const,
  body: ["it's great", { n: 1 }],
  apiKey: 'hub_abc123'
};

describe('snippets', () => {
  it('quotes for a POSIX shell, quotes inside included', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('builds a curl command that a shell parses back to the same arguments', () => {
    const snippet = curlSnippet(request);
    expect(snippet).toContain("-H 'x-api-key: hub_abc123'");
    // Let a real shell split it: the body must come back intact.
    const argv = execFileSync('bash', [
      '-c',
      `args() { printf '%s\\n' "$@"; }; ${snippet.replace(/^curl/, 'args')}`
    ])
      .toString()
      .split('\n');
    expect(argv).toContain(JSON.stringify(request.body));
    expect(argv).toContain('http://127.0.0.1:9000/alice/sentiment-analyser');
  });

  it('omits the body of a GET', () => {
    const snippet = curlSnippet({ ...request, method: 'GET' });
    expect(snippet).not.toContain('-d');
    expect(snippet).toContain('-X GET');
  });

  it('writes Python in the shape of the reference guide', () => {
    const snippet = pythonSnippet(request);
    expect(snippet).toContain('import requests');
    expect(snippet).toContain('"x-api-key": API_KEY');
    expect(snippet).toContain(
      'requests.post(endpoint, headers=headers, data=json.dumps(payload)).json()'
    );
    expect(snippet).toContain("output = response['body']['output']");
  });

  it('writes Python that is valid and yields the same payload', () => {
    const snippet = pythonSnippet(request);
    const payloadLine = snippet
      .split('\n')
      .find(l => l.startsWith('payload = '))!;
    const out = execFileSync('python3', [
      '-c',
      `import json\n${payloadLine}\nprint(json.dumps(payload))`
    ]).toString();
    expect(JSON.parse(out)).toEqual(request.body);
  });

  it('writes JavaScript fetch that parses', () => {
    const snippet = fetchSnippet(request);
    // An async function body: the top-level await of the snippet is valid inside it.
    expect(
      () => new Function(`return (async () => { ${snippet} })`)
    ).not.toThrow();
    expect(snippet).toContain(
      `body: JSON.stringify(${JSON.stringify(request.body)})`
    );
  });

  it('puts a placeholder where the key goes when it is not revealed', () => {
    for (const make of [curlSnippet, pythonSnippet, fetchSnippet]) {
      expect(make({ ...request, apiKey: null })).toContain(KEY_PLACEHOLDER);
    }
  });
});
