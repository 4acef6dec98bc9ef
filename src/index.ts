import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { hubIcon } from './icons';
import { StatusPanel } from './statusPanel';
import { CommandIDs } from './tokens';

/** The launcher category of the extension's tiles. */
const LAUNCHER_CATEGORY = 'Hub API';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:plugin',
  description: 'Turn a trained model into a live REST inference API.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_hub_api');
    const tracker = new WidgetTracker<MainAreaWidget<StatusPanel>>({
      namespace: 'hub-api-status'
    });

    app.commands.addCommand(CommandIDs.openStatus, {
      label: args =>
        args.isLauncher ? trans.__('Hub API') : trans.__('Open Hub API'),
      caption: trans.__('Turn a trained model into a live REST inference API'),
      icon: args => (args.isPalette ? undefined : hubIcon),
      execute: async () => {
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const content = new StatusPanel(translator ?? nullTranslator);
          widget = new MainAreaWidget({ content });
          widget.id = 'hub-api-main';
          widget.title.label = trans.__('Hub API');
          widget.title.icon = hubIcon;
          await tracker.add(widget);
          app.shell.add(widget, 'main');
          void content.refresh();
        }
        app.shell.activateById(widget.id);
        return widget;
      }
    });

    launcher?.add({
      command: CommandIDs.openStatus,
      category: LAUNCHER_CATEGORY,
      rank: 0
    });
    palette?.addItem({
      command: CommandIDs.openStatus,
      category: LAUNCHER_CATEGORY
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openStatus,
        name: () => 'hub-api'
      });
    }
  }
};

export default plugin;
