import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

/**
 * Show the one main-area widget a tracker holds, making it with `create` when there is none
 * (or it was closed): added to the tracker and the shell, then activated.
 */
export async function showSingleton<T extends Widget>(
  app: JupyterFrontEnd,
  tracker: WidgetTracker<MainAreaWidget<T>>,
  create: () => MainAreaWidget<T>
): Promise<MainAreaWidget<T>> {
  let widget = tracker.currentWidget;
  if (!widget || widget.isDisposed) {
    widget = create();
    await tracker.add(widget);
    app.shell.add(widget, 'main');
  }
  app.shell.activateById(widget.id);
  return widget;
}
