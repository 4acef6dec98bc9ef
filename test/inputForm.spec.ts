/**
 * The test console's input form (issue 11.4): the schema comes with the API's detail, the
 * "Form" and "JSON" views edit one input, and an invalid JSON text never loses the form's value.
 */
import { RJSFSchema } from '@rjsf/utils';

import { DeploymentsModel } from '../src/models/deployments';
import {
  bodyOfFormData,
  defaultInput,
  fitsSchema,
  InputForm
} from '../src/models/inputForm';
import { TestConsoleModel } from '../src/models/testConsole';
import { key, QUOTA, serve, summary, until } from './server';

const QUERY: RJSFSchema = {
  type: 'object',
  title: 'Query',
  required: ['text', 'lang'],
  properties: {
    text: { type: 'string' },
    lang: { type: 'string', enum: ['en', 'de'] },
    top_k: { type: 'integer', default: 3 }
  }
};

function platform(handler: unknown) {
  return serve({
    'GET platform/apis': () => [200, { apis: [summary()], quota: QUOTA }],
    'GET platform/keys': () => [200, { keys: [key()] }],
    'GET platform/apis/iris': () => [
      200,
      { ...summary(), quota: QUOTA, handler }
    ],
    'POST platform/apis/iris/invoke': req => [
      200,
      {
        status: 200,
        body: { statusCode: 200, body: { output: req.body.input } },
        duration_ms: 1
      }
    ]
  });
}

describe('InputForm', () => {
  it('starts from the schema defaults and an empty value of each type', () => {
    expect(defaultInput(QUERY)).toEqual({ top_k: 3 });
    expect(defaultInput({ type: 'integer', minimum: 1 })).toBe(1);
    expect(defaultInput({ type: 'array', items: { type: 'number' } })).toEqual(
      []
    );
    expect(defaultInput({ enum: ['a', 'b'] })).toBe('a');
  });

  it('follows the JSON text, and keeps the last valid value while it does not parse', () => {
    const form = new InputForm(QUERY, '{"text": "hi", "lang": "en"}');
    expect(form.formData).toEqual({ text: 'hi', lang: 'en' });
    expect(form.valid).toBe(true);
    form.follow('{"text": "hi", "lang": ');
    expect(form.formData).toEqual({ text: 'hi', lang: 'en' });
    expect(form.note).toMatch(/not valid JSON.*last valid input/);
    expect(form.valid).toBe(false);
    form.follow('{"text": "hi", "lang": "fr"}');
    expect(form.note).toBeNull();
    expect(form.valid).toBe(false); // parses, but "fr" is not one of the choices
  });

  it('checks values against the schema', () => {
    expect(fitsSchema(QUERY, { text: 'x', lang: 'de' })).toBe(true);
    expect(fitsSchema(QUERY, [[5.1, 3.5, 1.4, 0.2]])).toBe(false);
    expect(bodyOfFormData(undefined)).toBe('null');
  });
});

describe('TestConsoleModel with an input schema', () => {
  it('offers the form, replaces an example body the handler would not take, and syncs both ways', async () => {
    const seen = platform({
      input_schema: QUERY,
      input_source: 'type_hints',
      streams: false
    });
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    await until(() => model.form !== null, 'the schema');
    expect(model.view).toBe('form');
    // The iris example does not fit a Query: the schema's own first input instead.
    expect(JSON.parse(model.body)).toEqual({ top_k: 3 });

    // Form → JSON.
    model.setFormData({ text: 'hello', lang: 'de', top_k: 2 });
    expect(JSON.parse(model.body)).toEqual({
      text: 'hello',
      lang: 'de',
      top_k: 2
    });
    // JSON → form.
    model.view = 'json';
    model.body = '{"text": "bye", "lang": "en"}';
    expect(model.form!.formData).toEqual({ text: 'bye', lang: 'en' });
    // Invalid JSON: the form keeps the last valid value, Send is refused with the reason.
    model.body = '{"text": ';
    expect(model.form!.formData).toEqual({ text: 'bye', lang: 'en' });
    expect(model.canSend).toBe(false);
    model.view = 'form';
    model.setFormData({ text: 'again', lang: 'en' });
    expect(model.canSend).toBe(true);
    const result = await model.send();
    expect(result?.status).toBe(200);
    const call = seen.filter(r => r.path.endsWith('/invoke')).pop();
    expect(call?.body.input).toEqual({ text: 'again', lang: 'en' });
  });

  it('keeps the JSON editor alone without a schema (an older build or no hints)', async () => {
    platform(null);
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    await model.refreshHandler();
    expect(model.form).toBeNull();
    expect(model.view).toBe('json');
    expect(model.body).toBe('[[5.1, 3.5, 1.4, 0.2]]');
  });

  it('keeps a body the user wrote that fits the schema', async () => {
    platform({
      input_schema: { type: 'array', items: { type: 'array' } },
      input_source: 'hub_config',
      streams: false
    });
    const deployments = new DeploymentsModel();
    await deployments.refresh();
    const model = new TestConsoleModel('iris', deployments);
    await model.refreshHandler();
    expect(model.form).not.toBeNull();
    expect(model.body).toBe('[[5.1, 3.5, 1.4, 0.2]]');
    expect(model.handler?.input_source).toBe('hub_config');
  });
});
