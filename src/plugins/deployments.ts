/**
 * The deployments panel: in the left sidebar, in the main area on demand, and one detail
 * panel per API (restored after a reload). Refreshed when a deploy job ends.
 */
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
import { IEditorServices } from '@jupyterlab/codeeditor';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { isFinal } from '../api/types';
import { hubIcon } from '../icons';
import { DeploymentsModel } from '../models/deployments';
import { CommandIDs, IHubApi } from '../tokens';
import { ApiPanel, DeploymentsPanel } from '../widgets/deployments';
import { PALETTE_CATEGORY } from './core';
import { showSingleton } from './singleton';

export const deploymentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:deployments',
  description: 'The deployments panel of Hub API.',
  autoStart: true,
  requires: [IHubApi],
  optional: [ILayoutRestorer, ICommandPalette, IEditorServices, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    hub: IHubApi,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    editorServices: IEditorServices | null,
    translator: ITranslator | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_hub_api');
    const model = new DeploymentsModel();
    const endpointOf = (endpoint: string) => hub.publicEndpoint(endpoint);
    hub.settingsChanged.connect(() => void model.refresh());

    const apiTracker = new WidgetTracker<MainAreaWidget<ApiPanel>>({
      namespace: 'hub-api-api'
    });
    const openApi = async (api: string, tab = 'overview', activate = true) => {
      let widget = apiTracker.find(w => w.content.api === api);
      if (!widget) {
        if (model.loading) {
          await model.refresh();
        }
        const content = new ApiPanel(api, model, endpointOf, {
          translator: translator!,
          editorServices
        });
        widget = new MainAreaWidget({ content });
        widget.id = `hub-api-api-${api}`;
        widget.title.label = api;
        widget.title.caption = trans.__('Hub API %1', api);
        widget.title.icon = hubIcon;
        widget.title.closable = true;
        await apiTracker.add(widget);
        app.shell.add(widget, 'main');
      }
      widget.content.showTab(tab);
      if (activate) {
        app.shell.activateById(widget.id);
      }
      return widget;
    };

    const sidebar = new DeploymentsPanel(
      model,
      (api, tab) => void openApi(api, tab),
      endpointOf,
      translator
    );
    sidebar.id = 'hub-api-deployments';
    sidebar.title.icon = hubIcon;
    sidebar.title.caption = trans.__('Hub API deployments');
    app.shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, 'hub-api-deployments');

    const mainTracker = new WidgetTracker<MainAreaWidget<DeploymentsPanel>>({
      namespace: 'hub-api-deployments-main'
    });
    app.commands.addCommand(CommandIDs.openDeployments, {
      label: trans.__('Open Deployments Panel'),
      caption: trans.__(
        'Every Hub API with its status, endpoint, usage and keys'
      ),
      icon: args => (args.isPalette ? undefined : hubIcon),
      execute: async () => {
        const widget = await showSingleton(app, mainTracker, () => {
          const content = new DeploymentsPanel(
            model,
            (api, tab) => void openApi(api, tab),
            endpointOf,
            translator!
          );
          const main = new MainAreaWidget({ content });
          main.id = 'hub-api-deployments-main';
          main.title.label = trans.__('Deployments');
          main.title.icon = hubIcon;
          main.title.closable = true;
          return main;
        });
        void model.refresh();
        return widget;
      }
    });
    app.commands.addCommand(CommandIDs.openApi, {
      label: args =>
        args.api
          ? trans.__('Open API %1', String(args.api))
          : trans.__('Open API'),
      execute: args =>
        openApi(
          String(args.api),
          args.tab ? String(args.tab) : 'overview',
          args.activate !== false
        )
    });
    palette?.addItem({
      command: CommandIDs.openDeployments,
      category: PALETTE_CATEGORY
    });
    if (restorer) {
      void restorer.restore(mainTracker, {
        command: CommandIDs.openDeployments,
        name: () => 'deployments'
      });
      void restorer.restore(apiTracker, {
        command: CommandIDs.openApi,
        args: w => ({ api: w.content.api, activate: false }),
        name: w => w.content.api
      });
    }

    // A deploy that ended (anywhere) changes the list: refresh then, not on a timer.
    hub.jobs.changed.connect((_, { job, previous }) => {
      if (
        job.kind !== 'build' &&
        job.kind !== 'model-files' &&
        isFinal(job.state) &&
        !(previous && isFinal(previous.state))
      ) {
        void model.refresh();
      }
    });
    void model.refresh();
  }
};
