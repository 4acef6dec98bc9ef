/**
 * The test console's input form: its JSON Schema (from the API's live version: hub_config.json's
 * `input_schema` or the handler's type hints, read at build time), the value it edits, and the
 * rules that keep the "Form" and "JSON" views in sync. The form itself is JupyterLab's
 * `FormComponent` (rjsf, as in the settings editor); this module has no view.
 *
 * Sync: an edit in the form rewrites the JSON text (`bodyOfFormData`); an edit of the JSON text
 * that parses becomes the form's value; while the text does not parse, the form keeps the last
 * value that did and says so (`InputForm.note`).
 */
import { getDefaultFormState, RJSFSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';

/** The two views of the input. */
export type InputView = 'form' | 'json';

/** The rjsf validator the form uses (ajv 8, as JupyterLab's settings editor). */
export const formValidator = validator;

/** The JSON text of a form value (two-space indent, `null` for nothing). */
export function bodyOfFormData(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, null, 2);
}

/** Whether `value` satisfies `schema`. */
export function fitsSchema(schema: RJSFSchema, value: unknown): boolean {
  try {
    return validator.isValid(schema, value as any, schema);
  } catch {
    return false; // a schema ajv cannot compile: nothing fits it
  }
}

/** A first input for `schema`: its defaults, else an empty value of its type. */
export function defaultInput(schema: RJSFSchema): unknown {
  let value: unknown;
  try {
    value = getDefaultFormState(validator, schema, undefined, schema);
  } catch {
    value = undefined;
  }
  if (value !== undefined) {
    return value;
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return schema.enum?.[0] ?? '';
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return schema.enum?.[0] ?? null;
  }
}

/**
 * The form's state for one schema, following the JSON body's text.
 *
 * `follow(text)` is called with every new body text; `formData` is what the form shows.
 */
export class InputForm {
  constructor(
    readonly schema: RJSFSchema,
    text: string
  ) {
    this._formData = defaultInput(schema);
    this.follow(text);
  }

  /** The value the form shows: the body's, or the last one that parsed. */
  get formData(): unknown {
    return this._formData;
  }

  /** Why the form does not show the JSON text, or null when it does. */
  get note(): string | null {
    return this._stale
      ? 'The JSON body is not valid JSON: the form shows the last valid input. Fix it in the JSON view.'
      : null;
  }

  /** The body text changed (typed in the JSON view, or written by the form). */
  follow(text: string): void {
    try {
      this._formData = JSON.parse(text);
      this._stale = false;
    } catch {
      this._stale = true;
    }
  }

  /** Whether the current value satisfies the schema. */
  get valid(): boolean {
    return !this._stale && fitsSchema(this.schema, this._formData);
  }

  private _formData: unknown;
  private _stale = false;
}
