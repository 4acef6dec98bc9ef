/**
 * The state and rules of the "new Hub API" wizard, free of any DOM: the steps, the live
 * validation of each field, the defaults of each template and the request it ends with.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ICreateProjectRequest,
  IFolderListing,
  IKernelChoice,
  IKernelInfo,
  IMlflowInfo,
  IProject,
  ITemplate,
  ITemplatesAnswer
} from '../api/types';

/** What the wizard asks of the server (`HubClient` in the product). */
export interface IWizardServices {
  listFolder(path: string): Promise<IFolderListing>;
  listProjects(): Promise<IProject[]>;
  /** The templates, pinned to the kernel's installed versions when a kernel is named. */
  templatesFor(kernel?: IKernelChoice): Promise<ITemplatesAnswer>;
}

/**
 * The steps, in order. The framework (template) is chosen with the model file it fits, and
 * the requirements are edited on the review: each has a default that needs no click.
 */
export const STEPS = ['name', 'model', 'review'] as const;
export type WizardStep = (typeof STEPS)[number];

/** The fields of the wizard (`data-field`), and the step each one is on. */
export type WizardField =
  'name' | 'template' | 'files' | 'requirements' | 'main_py';
export const FIELD_STEP: Record<WizardField, WizardStep> = {
  name: 'name',
  template: 'model',
  files: 'model',
  requirements: 'review',
  main_py: 'review'
};

/** The largest main.py Create takes (UTF-8 bytes; the server's MAX_MAIN_PY_BYTES). */
export const MAX_MAIN_PY_BYTES = 1024 * 1024;

/** The framework shown for an MLflow model folder: `hub init --from-mlflow`, no template. */
export const MLFLOW = 'mlflow';

/** The template a model file's name suggests (null when it suggests none). */
export function guessTemplate(file: IPickedFile): string | null {
  if (file.mlflow && !file.mlflow.error) {
    return MLFLOW;
  }
  if (file.directory) {
    return null;
  }
  const ext = (file.path.split('.').pop() ?? '').toLowerCase();
  return EXTENSION_TEMPLATE[ext] ?? null;
}

const EXTENSION_TEMPLATE: Record<string, string> = {
  joblib: 'sklearn',
  pkl: 'sklearn',
  pickle: 'sklearn',
  skops: 'sklearn',
  pt: 'pytorch',
  pth: 'pytorch',
  keras: 'keras',
  h5: 'keras',
  safetensors: 'transformers'
};

/** The templates `hub init` knows, in the order the wizard shows them. */
export const TEMPLATE_NAMES = [
  'sklearn',
  'pytorch',
  'transformers',
  'keras',
  'blank'
] as const;

/** People's names of the templates. */
export const TEMPLATE_LABELS: Record<string, string> = {
  pytorch: 'PyTorch',
  transformers: 'Transformers (Hugging Face)',
  keras: 'TensorFlow / Keras',
  sklearn: 'scikit-learn',
  blank: 'Blank',
  [MLFLOW]: 'MLflow model (its MLmodel says how to load it)'
};

/**
 * The requirements each template starts with, used until the server's own template list
 * (`GET /hub-api/templates`) arrives; the server's text wins when it does.
 */
export const DEFAULT_REQUIREMENTS: Record<string, string> = {
  pytorch: 'torch\nnumpy\n',
  transformers: 'torch\ntransformers\n',
  keras: 'tensorflow\nnumpy\n',
  sklearn: 'scikit-learn\njoblib\nnumpy\n',
  blank: ''
};

const NAME_RE = /^[a-z][a-z0-9-]*$/;

/**
 * Why `name` cannot be a project name, or null when it can. `existing` holds the names of
 * projects and folders already there; `trans` translates the sentence.
 */
export function validateName(
  name: string,
  existing: ReadonlySet<string> = new Set(),
  trans: TranslationBundle = nullTranslator.load('jupyter_hub_api')
): string | null {
  if (name.length === 0) {
    return trans.__(
      'Give the API a name: lower-case letters, digits and "-", starting with a letter.'
    );
  }
  if (name.length > 63) {
    return trans.__(
      'The name is %1 characters long; use at most 63.',
      name.length
    );
  }
  if (!/^[a-z]/.test(name)) {
    return trans.__('The name must start with a lower-case letter (a–z).');
  }
  if (!NAME_RE.test(name)) {
    const bad = [...name].find(c => !/[a-z0-9-]/.test(c));
    return trans.__(
      '"%1" is not allowed in a name; use lower-case letters, digits and "-".',
      bad
    );
  }
  if (existing.has(name)) {
    return trans.__(
      'A project or folder named "%1" already exists here; choose another name.',
      name
    );
  }
  return null;
}

/** Join path parts relative to the server root ("" is the root). */
export function joinPath(...parts: string[]): string {
  return parts
    .flatMap(p => p.split('/'))
    .filter(p => p.length > 0 && p !== '.')
    .join('/');
}

/** The last segment of a path. */
export function basename(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? '';
}

/** The folder part of a path ("" for a top-level entry). */
export function dirname(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).join('/');
}

/** A file or folder picked to be copied into `model/`. */
export interface IPickedFile {
  path: string;
  size: number | null;
  directory: boolean;
  /** What an MLflow model folder (one with an MLmodel file) says about itself. */
  mlflow?: IMlflowInfo;
}

/** The wizard's state. */
export class WizardModel {
  constructor(
    options: {
      template?: string;
      parent?: string;
      modelFiles?: IPickedFile[];
      trans?: TranslationBundle;
      /** The kernel whose installed versions pin the requirements (default: the default kernel). */
      kernel?: IKernelChoice;
    } = {}
  ) {
    this._kernelChoice = options.kernel ?? { kernel: 'default' };
    this._trans = options.trans ?? nullTranslator.load('jupyter_hub_api');
    this._template =
      options.template && TEMPLATE_NAMES.includes(options.template as any)
        ? options.template
        : 'sklearn';
    this._defaultTemplate = this._template;
    this._parent = options.parent ?? '';
    for (const file of options.modelFiles ?? []) {
      this._files.set(file.path, file);
    }
    // The given template is a default (the settings'): a picked model file may change it.
    this._guessTemplate();
    this._requirements = this.templateRequirements(this._template);
  }

  /** Anything changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get step(): WizardStep {
    return this._step;
  }

  /**
   * Who the user is on the platform and where its gateway is (from `platform/me`), once
   * known: the review shows the endpoint the API will get.
   */
  get account(): { user: string; gatewayUrl: string } | null {
    return this._account;
  }
  set account(value: { user: string; gatewayUrl: string } | null) {
    this._account = value;
    this._changed.emit();
  }

  /** The endpoint the API will have, once the account is known and the name is set. */
  get endpoint(): string | null {
    if (!this._account || !this._name) {
      return null;
    }
    const base = this._account.gatewayUrl.replace(/\/+$/, '');
    return `${base}/${encodeURIComponent(this._account.user)}/${encodeURIComponent(this._name)}`;
  }

  get stepIndex(): number {
    return STEPS.indexOf(this._step);
  }

  get name(): string {
    return this._name;
  }
  set name(value: string) {
    this._name = value.trim();
    this._nameTouched = true;
    this._changed.emit();
  }

  /** Folder in which the project is created, relative to the server root. */
  get parent(): string {
    return this._parent;
  }
  set parent(value: string) {
    this._parent = joinPath(value);
    this._changed.emit();
  }

  get template(): string {
    return this._template;
  }
  /** The user's choice of framework: from then on a picked file no longer changes it. */
  set template(value: string) {
    this._templateTouched = true;
    this._setTemplate(value);
  }

  /** The templates the framework choice offers (MLflow only with an MLflow folder picked). */
  get templateChoices(): string[] {
    return this.mlflowModel ? [MLFLOW, ...TEMPLATE_NAMES] : [...TEMPLATE_NAMES];
  }

  /** The picked MLflow model folder, if any (the first one). */
  get mlflowModel(): IPickedFile | null {
    for (const file of this._files.values()) {
      if (file.mlflow && !file.mlflow.error) {
        return file;
      }
    }
    return null;
  }

  private _setTemplate(value: string): void {
    if (value === this._template) {
      return;
    }
    this._template = value;
    // A requirements text the user wrote is theirs; an untouched one follows the template.
    if (!this._requirementsEdited) {
      this._requirements = this.templateRequirements(value);
    }
    this._changed.emit();
  }

  get requirements(): string {
    return this._requirements;
  }
  set requirements(value: string) {
    this._requirements = value;
    this._requirementsEdited =
      value !== this.templateRequirements(this._template);
    this._changed.emit();
  }

  /**
   * Where each line of the proposed requirements came from ("import joblib in main.py, at the
   * kernel's version"), by line; lines the user typed have none.
   */
  get requirementOrigins(): Record<string, string> {
    if (this._template === MLFLOW) {
      const info = this.mlflowModel?.mlflow;
      const origin = this._trans.__(
        'recorded by MLflow %1 when it saved the model',
        info?.mlflow_version ?? ''
      );
      return Object.fromEntries(
        (info?.requirements ?? []).map(line => [line, origin])
      );
    }
    return this._templates.get(this._template)?.pinned?.origins ?? {};
  }

  /** What the kernel could not pin (module or name → why), for the current template. */
  get unresolved(): Record<string, string> {
    if (this._template === MLFLOW) {
      return {};
    }
    return this._templates.get(this._template)?.pinned?.unresolved ?? {};
  }

  /** The kernel whose versions pin the requirements, once it answered. */
  get kernel(): IKernelInfo | null {
    return this._kernel;
  }

  /** Why no kernel could pin the requirements, or null. */
  get kernelError(): string | null {
    return this._kernelError;
  }

  /** True while the user has not edited the requirements (they follow the template). */
  get requirementsEdited(): boolean {
    return this._requirementsEdited;
  }

  /** Put back the template's requirements. */
  resetRequirements(): void {
    this._requirements = this.templateRequirements(this._template);
    this._requirementsEdited = false;
    this._changed.emit();
  }

  /** The model files picked, with their sizes. */
  get files(): ReadonlyMap<string, IPickedFile> {
    return this._files;
  }

  /** The total size of the picked files. */
  get totalSize(): number {
    let total = 0;
    for (const file of this._files.values()) {
      total += file.size ?? 0;
    }
    return total;
  }

  /** Pick or unpick a file or folder; the framework follows it until the user chose one. */
  toggleFile(file: IPickedFile, picked?: boolean): void {
    const on = picked ?? !this._files.has(file.path);
    if (on) {
      this._files.set(file.path, file);
    } else {
      this._files.delete(file.path);
    }
    this._guessTemplate();
    this._changed.emit();
  }

  /** The framework the picked files suggest, unless the user chose one. */
  private _guessTemplate(): void {
    const mlflow = this.mlflowModel;
    if (this._template === MLFLOW && !mlflow) {
      this._setTemplate(this._defaultTemplate);
      return;
    }
    if (this._templateTouched) {
      return;
    }
    for (const file of this._files.values()) {
      const guess = guessTemplate(file);
      if (guess) {
        this._setTemplate(guess);
        return;
      }
    }
  }

  /** Names already taken in the parent folder (projects and plain folders). */
  setExisting(names: Iterable<string>): void {
    this._existing = new Set(names);
    this._changed.emit();
  }

  /**
   * Fetch the names already taken in the parent folder and by projects anywhere (what cannot
   * be listed is left out: the server checks again on Create).
   */
  async loadExisting(services: IWizardServices): Promise<void> {
    const names = new Set<string>();
    const [listing, projects] = await Promise.allSettled([
      services.listFolder(this._parent),
      services.listProjects()
    ]);
    if (listing.status === 'fulfilled') {
      listing.value.entries.forEach(e => names.add(e.name));
    }
    if (projects.status === 'fulfilled') {
      projects.value.forEach(p => names.add(p.name));
    }
    this.setExisting(names);
  }

  /** The folder the model-file picker shows ('' = the server root). */
  get folder(): string {
    return this._folder;
  }

  /**
   * The picker's filter: the folder's entries whose name holds it, ignoring case (as
   * JupyterLab's file browser filters). Picked files it hides stay picked.
   */
  get fileFilter(): string {
    return this._fileFilter;
  }
  set fileFilter(value: string) {
    if (value !== this._fileFilter) {
      this._fileFilter = value;
      this._changed.emit();
    }
  }

  /** The entries of the folder shown that the filter lets through. */
  get filteredEntries(): IFolderListing['entries'] {
    const entries = this._listing?.entries ?? [];
    const query = this._fileFilter.trim().toLowerCase();
    return query
      ? entries.filter(e => e.name.toLowerCase().includes(query))
      : entries;
  }

  /** That folder's listing, once it arrived. */
  get listing(): IFolderListing | null {
    return this._listing;
  }

  /** Why the last folder could not be listed, or null. */
  get listingError(): string | null {
    return this._listingError;
  }

  /**
   * List a folder for the model-file picker (the one shown stays if this one fails). The first
   * folder shown, when nothing is picked yet and it holds one model file (by its name: a
   * .joblib, .pt, .keras... or an MLflow model folder), picks that file: no click needed.
   */
  async openFolder(services: IWizardServices, path: string): Promise<void> {
    try {
      const listing = await services.listFolder(path);
      this._folder = listing.path;
      this._listing = listing;
      this._listingError = null;
      if (!this._preselected) {
        this._preselected = true;
        const models = listing.entries
          .map(e => pickedOf(e))
          .filter(f => guessTemplate(f));
        if (this._files.size === 0 && models.length === 1) {
          this._files.set(models[0].path, models[0]);
          this._guessTemplate();
        }
      }
    } catch (error) {
      this._listingError = (error as Error).message;
    }
    this._changed.emit();
  }

  /** Fetch the server's templates pinned to the kernel; without them the built-in ones stay. */
  async loadTemplates(services: IWizardServices): Promise<void> {
    try {
      const answer = await services.templatesFor(this._kernelChoice);
      this._kernel = answer.kernel ?? null;
      this._kernelError = answer.kernel_error ?? null;
      this.setTemplates(answer.templates);
    } catch {
      // the review then says main.py comes from the template
    }
  }

  /** The server's templates (their requirements, pinned when a kernel answered, and main.py). */
  setTemplates(templates: ITemplate[]): void {
    for (const t of templates) {
      this._templates.set(t.name, t);
    }
    if (!this._requirementsEdited) {
      this._requirements = this.templateRequirements(this._template);
    }
    this._changed.emit();
  }

  /**
   * The requirements a template starts with: pinned to the kernel's versions once the kernel
   * answered, MLflow's recorded ones for an MLflow model.
   */
  templateRequirements(template: string): string {
    if (template === MLFLOW) {
      const lines = this.mlflowModel?.mlflow?.requirements ?? [];
      return lines.map(line => line + '\n').join('');
    }
    const t = this._templates.get(template);
    return (
      t?.pinned?.text ?? t?.requirements ?? DEFAULT_REQUIREMENTS[template] ?? ''
    );
  }

  /**
   * The main.py Create writes: the text the user edited on the review, else the template's
   * (or the MLflow model's) once the server told it.
   */
  get mainPy(): string | null {
    return this._mainPy ?? this.templateMainPy;
  }
  /** The user's main.py (the template's text again makes it follow the template). */
  set mainPy(value: string | null) {
    this._mainPy =
      value === null || value === this.templateMainPy ? null : value;
    this._changed.emit();
  }

  /** The template's (or the MLflow model's) main.py, when the server told it. */
  get templateMainPy(): string | null {
    if (this._template === MLFLOW) {
      return this.mlflowModel?.mlflow?.main_py ?? null;
    }
    return this._templates.get(this._template)?.main_py ?? null;
  }

  /** True while main.py is the user's text, not the template's. */
  get mainPyEdited(): boolean {
    return this._mainPy !== null;
  }

  /** Put back the template's main.py. */
  resetMainPy(): void {
    this._mainPy = null;
    this._changed.emit();
  }

  /** The error of the name field, or null. */
  get nameError(): string | null {
    return validateName(this._name, this._existing, this._trans);
  }

  /** True once the user typed in the name field (errors show from then on). */
  get nameTouched(): boolean {
    return this._nameTouched;
  }

  /** Errors of a step's fields, by field. Empty when the step is complete. */
  errors(step: WizardStep = this._step): Record<string, string> {
    const out: Record<string, string> = {};
    if (step === 'name') {
      const error = this.nameError;
      if (error) {
        out.name = error;
      }
    } else if (step === 'model') {
      if (!this.templateChoices.includes(this._template)) {
        out.template = this._trans.__('Unknown template "%1".', this._template);
      }
    } else if (step === 'review') {
      const bad = this._requirements
        .split('\n')
        .map(l => l.trim())
        .find(l => l.startsWith('-e ') || l.startsWith('--'));
      if (bad) {
        out.requirements = this._trans.__(
          '"%1": options are not allowed here; list one package per line.',
          bad
        );
      }
      const size =
        this._mainPy === null
          ? 0
          : new TextEncoder().encode(this._mainPy).length;
      if (size > MAX_MAIN_PY_BYTES) {
        out.main_py = this._trans.__(
          'main.py is %1 bytes; keep it under 1 MiB (put data in model/ instead).',
          size
        );
      }
    }
    return out;
  }

  /** The first step with errors, or null when the whole wizard is complete. */
  firstInvalidStep(): WizardStep | null {
    for (const step of STEPS) {
      if (Object.keys(this.errors(step)).length) {
        return step;
      }
    }
    return null;
  }

  /** Go to the next step if this one is complete; answers whether it moved. */
  next(): boolean {
    if (Object.keys(this.errors()).length) {
      this._nameTouched = true;
      this._changed.emit();
      return false;
    }
    const i = this.stepIndex;
    if (i < STEPS.length - 1) {
      this._step = STEPS[i + 1];
      this._changed.emit();
      return true;
    }
    return false;
  }

  /** Go back one step. */
  back(): boolean {
    const i = this.stepIndex;
    if (i > 0) {
      this._step = STEPS[i - 1];
      this._changed.emit();
      return true;
    }
    return false;
  }

  /** Jump to a step: backwards always, forwards only over complete steps. */
  goTo(step: WizardStep): boolean {
    const target = STEPS.indexOf(step);
    for (let i = 0; i < target; i++) {
      if (Object.keys(this.errors(STEPS[i])).length) {
        this._step = STEPS[i];
        this._nameTouched = true;
        this._changed.emit();
        return false;
      }
    }
    this._step = step;
    this._changed.emit();
    return true;
  }

  /** The project's folder, relative to the server root. */
  get projectPath(): string {
    return joinPath(this._parent, this._name);
  }

  /** What "Create" will write, relative to the server root. */
  plannedFiles(): string[] {
    const root = this.projectPath;
    const out = [
      joinPath(root, 'Dockerfile'),
      joinPath(root, 'hub_config.json'),
      joinPath(root, 'src', 'main.py'),
      joinPath(root, 'src', 'requirements.txt'),
      joinPath(root, 'src', 'utils.py')
    ];
    for (const file of this._files.values()) {
      out.push(
        joinPath(root, 'model', basename(file.path)) +
          (file.directory ? '/' : '')
      );
    }
    if (this._files.size === 0) {
      out.push(joinPath(root, 'model') + '/');
    }
    return out;
  }

  /**
   * The request of `POST /hub-api/projects`: the requirements whenever they are not the
   * template's own text (pinned by the kernel, or edited); an MLflow model as `from_mlflow`
   * (`hub init --from-mlflow`: its folder copied, its main.py and recorded requirements).
   */
  toRequest(): ICreateProjectRequest {
    const mlflow = this._template === MLFLOW ? this.mlflowModel : null;
    const request: ICreateProjectRequest = {
      name: this._name,
      template: mlflow ? 'blank' : this._template,
      parent: this._parent,
      model_files: [...this._files.keys()].filter(p => p !== mlflow?.path)
    };
    if (mlflow) {
      request.from_mlflow = mlflow.path;
    }
    const own = mlflow
      ? this.templateRequirements(MLFLOW)
      : (this._templates.get(this._template)?.requirements ??
        DEFAULT_REQUIREMENTS[this._template]);
    if (this._requirementsEdited || this._requirements !== own) {
      request.requirements = this._requirements;
    }
    // The user's main.py, written over the one the template (or MLflow model) writes.
    if (this._mainPy !== null) {
      request.main_py = this._mainPy;
    }
    return request;
  }

  private _trans: TranslationBundle;
  private _kernelChoice: IKernelChoice;
  private _kernel: IKernelInfo | null = null;
  private _kernelError: string | null = null;
  private _templateTouched = false;
  private _defaultTemplate = 'sklearn';
  private _preselected = false;
  private _step: WizardStep = 'name';
  private _name = '';
  private _nameTouched = false;
  private _parent: string;
  private _template: string;
  private _requirements: string;
  private _requirementsEdited = false;
  private _mainPy: string | null = null;
  private _fileFilter = '';
  private _files = new Map<string, IPickedFile>();
  private _existing = new Set<string>();
  private _templates = new Map<string, ITemplate>();
  private _folder = '';
  private _listing: IFolderListing | null = null;
  private _listingError: string | null = null;
  private _account: { user: string; gatewayUrl: string } | null = null;
  private _changed = new Signal<this, void>(this);
}

/** A listing's entry as a pickable file. */
export function pickedOf(entry: {
  path: string;
  size: number | null;
  type: 'file' | 'directory';
  mlflow?: IMlflowInfo;
}): IPickedFile {
  const file: IPickedFile = {
    path: entry.path,
    size: entry.size,
    directory: entry.type === 'directory'
  };
  if (entry.mlflow) {
    file.mlflow = entry.mlflow;
  }
  return file;
}
