/**
 * The notebook toolbar's "Deploy" button (declared in schema/plugin.json, so users can move or
 * hide it): builds and deploys the Hub API project the notebook belongs to.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { HubClient } from '../api/client';
import { IFolderListing } from '../api/types';
import { hubIcon } from '../icons';
import { dirname } from '../models/wizard';
import { CommandIDs } from '../tokens';

/**
 * The nearest folder, from `folder` up to the server root, that holds a `hub_config.json`,
 * or null when there is none.
 */
export async function findProject(
  folder: string,
  list: (path: string) => Promise<IFolderListing> = HubClient.listFolder
): Promise<string | null> {
  let current = folder;
  for (;;) {
    try {
      const listing = await list(current);
      if (
        listing.entries.some(
          e => e.name === 'hub_config.json' && e.type === 'file'
        )
      ) {
        return listing.path;
      }
    } catch {
      // unreadable folder: keep walking up
    }
    if (!current) {
      return null;
    }
    current = dirname(current);
  }
}

export const notebookPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:notebook',
  description: 'The Deploy button of the notebook toolbar.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_hub_api');
    app.commands.addCommand(CommandIDs.deployNotebook, {
      label: trans.__('Deploy'),
      caption: trans.__(
        'Build and deploy the Hub API project this notebook belongs to'
      ),
      icon: hubIcon,
      isEnabled: () => tracker.currentWidget !== null,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (!panel) {
          return null;
        }
        const path = panel.context.path.replace(/^[^/:]+:/, '');
        const folder = dirname(path);
        const project = await findProject(folder);
        if (project === null) {
          const answer = await showDialog({
            title: trans.__('Not in a Hub API project'),
            body: trans.__(
              'No folder from "%1" up to the server root has a hub_config.json. Create a Hub API project here?',
              folder || trans.__('(server root)')
            ),
            buttons: [
              Dialog.cancelButton(),
              Dialog.okButton({ label: trans.__('Create project…') })
            ]
          });
          if (answer.button.accept) {
            // The notebook's kernel pins the new project's requirements to its versions.
            const kernelId = panel.sessionContext.session?.kernel?.id;
            return app.commands.execute(CommandIDs.newProject, {
              parent: folder,
              ...(kernelId ? { kernelId } : {})
            });
          }
          return null;
        }
        if (panel.context.model.dirty) {
          const answer = await showDialog({
            title: trans.__('Unsaved changes'),
            body: trans.__(
              'The notebook has unsaved changes. Save it before deploying %1?',
              project || trans.__('(server root)')
            ),
            buttons: [
              Dialog.cancelButton(),
              Dialog.warnButton({
                label: trans.__('Deploy without saving'),
                ariaLabel: 'deploy-without-saving'
              }),
              Dialog.okButton({ label: trans.__('Save and deploy') })
            ]
          });
          // Both buttons accept; the warn one skips the save.
          if (!answer.button.accept) {
            return null;
          }
          if (answer.button.displayType !== 'warn') {
            await panel.context.save();
          }
        }
        return app.commands.execute(CommandIDs.deploy, {
          project,
          kind: 'build+deploy',
          openLog: true
        });
      }
    });
  }
};
