import { STEPS, validateName, WizardModel } from '../src/models/wizard';

describe('validateName', () => {
  it('accepts lower-case names with digits and dashes', () => {
    expect(validateName('sentiment-analyser')).toBeNull();
    expect(validateName('a')).toBeNull();
    expect(validateName('iris2-v3')).toBeNull();
  });

  it('asks for a name when it is empty', () => {
    expect(validateName('')).toMatch(/Give the API a name/);
  });

  it('refuses a name that does not start with a letter', () => {
    expect(validateName('2fast')).toMatch(/start with a lower-case letter/);
    expect(validateName('-x')).toMatch(/start with a lower-case letter/);
  });

  it('names the first character that is not allowed', () => {
    expect(validateName('My-API')).toMatch(/start with a lower-case letter/);
    expect(validateName('my_api')).toMatch(/"_" is not allowed/);
    expect(validateName('my api')).toMatch(/" " is not allowed/);
  });

  it('refuses more than 63 characters', () => {
    expect(validateName('a'.repeat(63))).toBeNull();
    expect(validateName('a'.repeat(64))).toMatch(
      /64 characters long; use at most 63/
    );
  });

  it('refuses a name already taken', () => {
    expect(validateName('iris', new Set(['iris']))).toMatch(/already exists/);
  });
});

describe('WizardModel', () => {
  it('does not leave the name step while the name is invalid', () => {
    const model = new WizardModel();
    expect(model.step).toBe('name');
    expect(model.next()).toBe(false);
    expect(model.nameTouched).toBe(true);
    model.name = 'Bad Name';
    expect(model.next()).toBe(false);
    expect(model.errors().name).toMatch(/start with a lower-case letter/);
    model.name = 'good-name';
    expect(model.next()).toBe(true);
    expect(model.step).toBe('model');
  });

  it('walks the steps in order, back and forth', () => {
    const model = new WizardModel();
    model.name = 'iris';
    for (const step of STEPS.slice(1)) {
      expect(model.next()).toBe(true);
      expect(model.step).toBe(step);
    }
    expect(model.next()).toBe(false);
    expect(model.back()).toBe(true);
    expect(model.step).toBe('model');
  });

  it('jumps forward only over complete steps', () => {
    const model = new WizardModel();
    expect(model.goTo('review')).toBe(false);
    expect(model.step).toBe('name');
    model.name = 'iris';
    expect(model.goTo('review')).toBe(true);
    expect(model.firstInvalidStep()).toBeNull();
  });

  it('prefills the requirements from the template until the user edits them', () => {
    const model = new WizardModel({ template: 'sklearn' });
    expect(model.requirements).toContain('scikit-learn');
    model.template = 'pytorch';
    expect(model.requirements).toContain('torch');
    model.requirements = 'torch\nmy-lib\n';
    model.template = 'keras';
    expect(model.requirements).toBe('torch\nmy-lib\n');
    model.resetRequirements();
    expect(model.requirements).toContain('tensorflow');
  });

  it('takes the server template texts when they arrive', () => {
    const model = new WizardModel({ template: 'blank' });
    expect(model.mainPy).toBeNull();
    model.setTemplates([
      { name: 'blank', requirements: 'numpy\n', main_py: 'print(1)\n' }
    ]);
    expect(model.requirements).toBe('numpy\n');
    expect(model.mainPy).toBe('print(1)\n');
  });

  it('refuses pip options in the requirements, at that field', () => {
    const model = new WizardModel();
    model.requirements = 'numpy\n--index-url http://evil\n';
    expect(model.errors('review').requirements).toMatch(
      /--index-url http:\/\/evil/
    );
  });

  it('counts the picked files and their total size', () => {
    const model = new WizardModel({
      modelFiles: [{ path: 'models/a.pkl', size: 1000, directory: false }]
    });
    model.toggleFile({ path: 'models/tok', size: null, directory: true });
    model.toggleFile({ path: 'b.bin', size: 24, directory: false });
    expect(model.files.size).toBe(3);
    expect(model.totalSize).toBe(1024);
    model.toggleFile({ path: 'b.bin', size: 24, directory: false });
    expect(model.totalSize).toBe(1000);
  });

  it('lists what Create will write, and builds the request', () => {
    const model = new WizardModel({
      parent: 'work',
      modelFiles: [
        { path: 'models/model.joblib', size: 10, directory: false },
        { path: 'tokenizer', size: null, directory: true }
      ]
    });
    model.name = 'iris';
    expect(model.plannedFiles()).toEqual([
      'work/iris/Dockerfile',
      'work/iris/hub_config.json',
      'work/iris/src/main.py',
      'work/iris/src/requirements.txt',
      'work/iris/src/utils.py',
      'work/iris/model/model.joblib',
      'work/iris/model/tokenizer/'
    ]);
    expect(model.toRequest()).toEqual({
      name: 'iris',
      template: 'sklearn',
      parent: 'work',
      model_files: ['models/model.joblib', 'tokenizer']
    });
    model.requirements = 'scikit-learn==1.5\n';
    expect(model.toRequest().requirements).toBe('scikit-learn==1.5\n');
  });
});

describe('WizardModel folders', () => {
  it('lists a folder for the picker and keeps it when the next one fails', async () => {
    const model = new WizardModel();
    const services = {
      listFolder: async (path: string) => {
        if (path === 'gone') {
          throw new Error('The folder gone does not exist.');
        }
        return {
          path,
          entries: [
            {
              name: 'model.joblib',
              path: `${path}/model.joblib`,
              type: 'file' as const,
              size: 2048
            }
          ]
        };
      },
      listProjects: async () => [],
      templatesFor: async () => ({ templates: [] })
    };
    let changes = 0;
    model.changed.connect(() => changes++);
    await model.openFolder(services, 'work');
    expect(model.folder).toBe('work');
    expect(model.listing?.entries[0].name).toBe('model.joblib');
    await model.openFolder(services, 'gone');
    expect(model.folder).toBe('work');
    expect(model.listingError).toBe('The folder gone does not exist.');
    expect(changes).toBe(2);
    // The only model file of the first folder shown was picked, and set the framework.
    expect([...model.files.keys()]).toEqual(['work/model.joblib']);
    expect(model.template).toBe('sklearn');
  });

  it('picks nothing when the first folder holds several model files, or one was picked', async () => {
    const listing = {
      path: 'w',
      entries: ['a.pt', 'b.pt', 'notes.txt'].map(name => ({
        name,
        path: `w/${name}`,
        type: 'file' as const,
        size: 1
      }))
    };
    const services = {
      listFolder: async () => listing,
      listProjects: async () => [],
      templatesFor: async () => ({ templates: [] })
    };
    const model = new WizardModel();
    await model.openFolder(services, 'w');
    expect(model.files.size).toBe(0);
    listing.entries = listing.entries.slice(1);
    const picked = new WizardModel({
      modelFiles: [{ path: 'x/c.keras', size: 1, directory: false }]
    });
    expect(picked.template).toBe('keras');
    await picked.openFolder(services, 'w');
    expect([...picked.files.keys()]).toEqual(['x/c.keras']);
  });
});

describe('WizardModel framework and MLflow', () => {
  it('follows the picked file until the user chooses a framework', () => {
    const model = new WizardModel({ template: 'sklearn' });
    model.toggleFile({ path: 'net.pt', size: 1, directory: false });
    expect(model.template).toBe('pytorch');
    expect(model.requirements).toContain('torch');
    model.template = 'transformers';
    model.toggleFile({ path: 'more.joblib', size: 1, directory: false });
    expect(model.template).toBe('transformers');
  });

  it('takes an MLflow folder as hub init --from-mlflow: its main.py and recorded requirements', () => {
    const model = new WizardModel({ template: 'sklearn', parent: 'w' });
    model.name = 'churn';
    model.toggleFile({
      path: 'runs/model',
      size: null,
      directory: true,
      mlflow: {
        flavors: ['python_function', 'sklearn'],
        loader: 'sklearn',
        requirements: ['numpy==2.4.6', 'scikit-learn==1.9.1'],
        mlflow_version: '3.17.0',
        main_py: 'import skops.io\n'
      }
    });
    expect(model.template).toBe('mlflow');
    expect(model.templateChoices[0]).toBe('mlflow');
    expect(model.requirements).toBe('numpy==2.4.6\nscikit-learn==1.9.1\n');
    expect(model.mainPy).toBe('import skops.io\n');
    expect(model.requirementOrigins['numpy==2.4.6']).toMatch(
      /recorded by MLflow 3.17.0/
    );
    expect(model.toRequest()).toEqual({
      name: 'churn',
      template: 'blank',
      parent: 'w',
      model_files: [],
      from_mlflow: 'runs/model'
    });
    model.toggleFile(
      { path: 'runs/model', size: null, directory: true },
      false
    );
    expect(model.template).toBe('sklearn');
  });
});
