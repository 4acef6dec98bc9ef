/**
 * The core plugin: settings, the version handshake, the jobs watcher, and the versions panel
 * (the first tile of the skeleton, kept as "About Hub API").
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
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { JobsWatcher } from '../api/jobsWatch';
import { hubIcon } from '../icons';
import { handshake, IHandshake, StatusPanel } from '../statusPanel';
import {
  CommandIDs,
  DEFAULT_SETTINGS,
  IHubApi,
  IHubApiSettings
} from '../tokens';
import { showSingleton } from './singleton';

/** The id of the core plugin; its schema is schema/plugin.json. */
export const CORE_PLUGIN_ID = 'jupyter-hub-api:plugin';

/** The palette category of every command of the extension. */
export const PALETTE_CATEGORY = 'Hub API';

/** Replace the origin of `endpoint` by `platformUrl` (when set), keeping the path. */
export function rewriteEndpoint(endpoint: string, platformUrl: string): string {
  if (!platformUrl) {
    return endpoint;
  }
  try {
    const url = new URL(endpoint);
    return platformUrl.replace(/\/+$/, '') + url.pathname + url.search;
  } catch {
    return endpoint;
  }
}

class HubApi implements IHubApi {
  constructor() {
    this.handshake = handshake();
  }
  settings: IHubApiSettings = { ...DEFAULT_SETTINGS };
  readonly settingsChanged: Signal<IHubApi, IHubApiSettings> = new Signal<
    IHubApi,
    IHubApiSettings
  >(this);
  readonly jobs = new JobsWatcher();
  readonly handshake: Promise<IHandshake>;

  publicEndpoint(endpoint: string): string {
    return rewriteEndpoint(endpoint, this.settings.platformUrl);
  }

  load(settings: ISettingRegistry.ISettings): void {
    const read = () => {
      this.settings = { ...DEFAULT_SETTINGS, ...(settings.composite as any) };
      this.settingsChanged.emit(this.settings);
    };
    read();
    settings.changed.connect(read);
  }
}

export const corePlugin: JupyterFrontEndPlugin<IHubApi> = {
  id: CORE_PLUGIN_ID,
  description: 'Settings, version handshake and jobs watcher of Hub API.',
  autoStart: true,
  provides: IHubApi,
  optional: [ISettingRegistry, ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): IHubApi => {
    const trans = (translator ?? nullTranslator).load('jupyter_hub_api');
    const hub = new HubApi();
    hub.jobs.start();
    if (registry) {
      registry
        .load(CORE_PLUGIN_ID)
        .then(settings => hub.load(settings))
        .catch(reason =>
          console.warn('Hub API: settings could not be loaded.', reason)
        );
    }
    void hub.handshake.then(result => {
      if (result.problem) {
        console.warn(`Hub API: ${result.problem}`);
      }
    });

    const tracker = new WidgetTracker<MainAreaWidget<StatusPanel>>({
      namespace: 'hub-api-status'
    });
    app.commands.addCommand(CommandIDs.openStatus, {
      label: trans.__('About Hub API (versions)'),
      caption: trans.__(
        'The versions of the frontend, the server extension and the hub CLI'
      ),
      icon: args => (args.isPalette ? undefined : hubIcon),
      execute: () =>
        showSingleton(app, tracker, () => {
          const content = new StatusPanel(translator ?? nullTranslator);
          const widget = new MainAreaWidget({ content });
          widget.id = 'hub-api-main';
          widget.title.label = trans.__('About Hub API');
          widget.title.icon = hubIcon;
          void content.refresh();
          return widget;
        })
    });
    palette?.addItem({
      command: CommandIDs.openStatus,
      category: PALETTE_CATEGORY
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openStatus,
        name: () => 'hub-api'
      });
    }
    return hub;
  }
};
