/**
 * Try in kernel from `src/main.py`'s editor: a toolbar button on the editor of a Hub API
 * project's main.py, the command "Try in kernel" (palette, Accel+Shift+Enter in the editor),
 * and the panel it opens beside the editor (`widgets/tryInKernel.ts`).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { runIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { exampleInput, projectOfMainPy } from '../models/tryInKernel';
import { CommandIDs } from '../tokens';
import {
  setTryServices,
  TryInKernelPanel,
  TryInKernelView
} from '../widgets/tryInKernel';
import { PALETTE_CATEGORY } from './core';
import { findProject } from './notebook';

/** What this plugin needs of a document widget (a file editor). */
interface IEditorLike extends Widget {
  context: { path: string; model: { toString(): string } };
}

function isEditor(widget: Widget | null): widget is IEditorLike {
  const context = (widget as any)?.context;
  return !!context && typeof context.path === 'string' && !!context.model;
}

export const tryInKernelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:try-in-kernel',
  description:
    "Try in kernel: run a Hub API project's handler in a Python kernel from main.py's editor.",
  autoStart: true,
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_hub_api');
    setTryServices(app.serviceManager);
    const panels = new Map<string, MainAreaWidget<TryInKernelPanel>>();
    const editors = new Map<string, IEditorLike>();

    const open = async (editor: IEditorLike): Promise<void> => {
      const path = editor.context.path.replace(/^[^/:]+:/, '');
      const guess = projectOfMainPy(path);
      if (guess === null) {
        return;
      }
      const project = await findProject(guess);
      if (project !== guess) {
        Notification.warning(
          trans.__(
            '%1 is not the src/main.py of a Hub API project (no hub_config.json in %2).',
            path,
            guess || trans.__('the server root')
          ),
          { autoClose: 5000 }
        );
        return;
      }
      editors.set(project, editor);
      let panel = panels.get(project);
      if (!panel || panel.isDisposed) {
        const view = new TryInKernelView(
          {
            project,
            source: async () => {
              const current = editors.get(project);
              if (current && !current.isDisposed) {
                return current.context.model.toString();
              }
              const file = await app.serviceManager.contents.get(
                `${project ? project + '/' : ''}src/main.py`,
                { content: true, type: 'file', format: 'text' }
              );
              return String(file.content);
            },
            describe: () => ({ project }),
            initialBody: exampleInput(null)
          },
          trans
        );
        panel = new MainAreaWidget({
          content: new TryInKernelPanel(view, trans)
        });
        panel.id = `hub-api-try-${project.replace(/[^\w-]/g, '_')}`;
        panel.title.label = trans.__(
          'Try %1',
          project.split('/').pop() || project
        );
        panel.title.icon = runIcon;
        panel.title.closable = true;
        panels.set(project, panel);
        app.shell.add(panel, 'main', { mode: 'split-right', ref: editor.id });
      } else {
        app.shell.activateById(panel.id);
      }
      await panel.content.view.run();
    };

    const currentEditor = (): IEditorLike | null => {
      const widget = app.shell.currentWidget;
      return isEditor(widget) &&
        projectOfMainPy(widget.context.path.replace(/^[^/:]+:/, '')) !== null
        ? widget
        : null;
    };

    app.commands.addCommand(CommandIDs.tryInKernel, {
      label: trans.__('Try in kernel'),
      caption: trans.__(
        "Run this project's handler in a Python kernel on a JSON body, before any build"
      ),
      icon: runIcon,
      isEnabled: () => currentEditor() !== null,
      execute: async () => {
        const editor = currentEditor();
        if (editor) {
          await open(editor);
        }
      }
    });
    app.commands.addKeyBinding({
      command: CommandIDs.tryInKernel,
      keys: ['Accel Shift Enter'],
      selector: '.jp-FileEditor'
    });
    palette?.addItem({
      command: CommandIDs.tryInKernel,
      category: PALETTE_CATEGORY
    });

    app.docRegistry.addWidgetExtension('Editor', {
      createNew: (widget, context) => {
        if (projectOfMainPy(context.path.replace(/^[^/:]+:/, '')) === null) {
          return;
        }
        const item = new ToolbarButton({
          icon: runIcon,
          label: trans.__('Try in kernel'),
          tooltip: trans.__(
            'Run the handler in a Python kernel on a JSON body (Ctrl+Shift+Enter)'
          ),
          onClick: () => void open(widget as unknown as IEditorLike)
        });
        item.node.dataset.testid = 'try-in-kernel-button';
        const bar = (
          widget as unknown as {
            toolbar: {
              insertItem(i: number, name: string, w: Widget): boolean;
            };
          }
        ).toolbar;
        bar.insertItem(10, 'hub-api-try-in-kernel', item);
        return item;
      }
    });
  }
};
