/**
 * The wizard in the UI: the "Hub API" launcher tile, the palette command and the file
 * browser's "Deploy as Hub API…" on a file or folder (preselected as a model file).
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
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { HubClient } from '../api/client';
import { IJob, isFinal } from '../api/types';
import { hubIcon } from '../icons';
import { dirname, IPickedFile, joinPath, WizardModel } from '../models/wizard';
import { CommandIDs, IHubApi } from '../tokens';
import { WizardWidget } from '../widgets/wizard';
import { PALETTE_CATEGORY } from './core';

/** The launcher category of the extension's tiles. */
export const LAUNCHER_CATEGORY = 'Hub API';

/** Resolve once the job reached a final state (told by the jobs watcher, never polled). */
export function waitForJob(hub: IHubApi, id: string): Promise<IJob> {
  return new Promise<IJob>((resolve, reject) => {
    const onChange = (_: unknown, change: { job: IJob }) => {
      if (change.job.id === id && isFinal(change.job.state)) {
        hub.jobs.changed.disconnect(onChange);
        resolve(change.job);
      }
    };
    hub.jobs.changed.connect(onChange);
    // It may have ended before we listened.
    HubClient.getJob(id)
      .then(job => {
        if (isFinal(job.state)) {
          hub.jobs.changed.disconnect(onChange);
          resolve(job);
        }
      })
      .catch(error => {
        hub.jobs.changed.disconnect(onChange);
        reject(error);
      });
  });
}

export const wizardPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:wizard',
  description: 'The wizard that turns a model file into a Hub API project.',
  autoStart: true,
  requires: [IHubApi],
  optional: [
    ILauncher,
    ICommandPalette,
    IDocumentManager,
    IDefaultFileBrowser,
    ITranslator,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    hub: IHubApi,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    docManager: IDocumentManager | null,
    browser: IDefaultFileBrowser | null,
    translator: ITranslator | null,
    editorServices: IEditorServices | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_hub_api');
    let counter = 0;

    const openWizard = async (args: {
      path?: string;
      parent?: string;
      isDir?: boolean;
      /** The running kernel whose installed versions pin the requirements (a notebook's). */
      kernelId?: string;
    }) => {
      const picked: IPickedFile[] = [];
      let parent = args.parent ?? browser?.model.path ?? '';
      if (args.path) {
        let size: number | null = null;
        let directory = !!args.isDir;
        if (browser) {
          for (const item of browser.selectedItems()) {
            if (item.path === args.path) {
              directory = item.type === 'directory';
              size = directory ? null : (item.size ?? null);
            }
          }
        }
        picked.push({ path: args.path, size, directory });
        parent = args.parent ?? dirname(args.path);
      }
      // The default drive's paths may carry a "drive:" prefix; the server wants plain paths.
      parent = parent.replace(/^[^/:]+:/, '');
      const model = new WizardModel({
        trans,
        template: hub.settings.defaultTemplate,
        parent,
        modelFiles: picked,
        kernel: args.kernelId
          ? { kernelId: args.kernelId }
          : { kernel: 'default' }
      });
      // The review shows the endpoint the API will get, with the user name it holds.
      void HubClient.me()
        .then(me => {
          model.account = {
            user: me.user,
            gatewayUrl: hub.publicEndpoint(me.gateway_url)
          };
        })
        .catch(() => undefined);
      const submit = async (deploy: boolean) => {
        const response = await HubClient.createProject(model.toRequest());
        const path = response.project.path;
        if (response.job) {
          const copy = await waitForJob(hub, response.job.id);
          if (copy.state !== 'succeeded') {
            void app.commands.execute(CommandIDs.openLog, { jobId: copy.id });
            Notification.error(
              trans.__(
                '%1 was created, but its model files were not copied: %2',
                path,
                copy.error?.message ?? copy.state
              ),
              { autoClose: false }
            );
            widget.dispose();
            return;
          }
        }
        if (docManager) {
          docManager.openOrReveal(joinPath(path, 'src', 'main.py'));
        }
        Notification.success(trans.__('Created %1.', path), {
          autoClose: 4000
        });
        widget.dispose();
        if (deploy) {
          await app.commands.execute(CommandIDs.deploy, {
            project: path,
            kind: 'build+deploy'
          });
        }
      };
      const content = new WizardWidget(model, HubClient, submit, {
        translator: translator!,
        problem: hub.handshake.then(r => r.problem),
        editorServices
      });
      // `submit` above runs only after this line, so it may use `widget`.
      const widget: MainAreaWidget<WizardWidget> = new MainAreaWidget({
        content
      });
      widget.id = `hub-api-wizard-${++counter}`;
      widget.title.label = trans.__('New Hub API');
      widget.title.icon = hubIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    app.commands.addCommand(CommandIDs.newProject, {
      label: args =>
        args.isLauncher
          ? trans.__('Hub API')
          : args.isContextMenu
            ? trans.__('Deploy as Hub API…')
            : trans.__('New Hub API…'),
      caption: trans.__('Turn a trained model into a live REST inference API'),
      icon: args => (args.isPalette ? undefined : hubIcon),
      execute: args => {
        if (args.isContextMenu && browser) {
          const item = browser.selectedItems().next();
          const selected = item && !item.done ? item.value : null;
          if (selected) {
            return openWizard({
              path: selected.path.replace(/^[^/:]+:/, ''),
              isDir: selected.type === 'directory'
            });
          }
        }
        return openWizard({
          path: args.path === undefined ? undefined : String(args.path),
          parent: args.parent === undefined ? undefined : String(args.parent),
          kernelId: args.kernelId ? String(args.kernelId) : undefined
        });
      }
    });

    launcher?.add({
      command: CommandIDs.newProject,
      category: LAUNCHER_CATEGORY,
      rank: 0
    });
    palette?.addItem({
      command: CommandIDs.newProject,
      category: PALETTE_CATEGORY
    });
    // The file browser's context menu item on folders; it passes isContextMenu so the
    // command reads the selection.
    app.contextMenu.addItem({
      command: CommandIDs.newProject,
      selector: '.jp-DirListing-item[data-isdir]',
      rank: 60,
      args: { isContextMenu: true }
    });
  }
};
