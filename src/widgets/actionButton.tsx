/**
 * A toolbar button for an action (refresh, open...), not a toggle (ui2, issue 11 a11y).
 *
 * JupyterLab's `ToolbarButton` always renders `aria-pressed` on its `<jp-button>` host and
 * flips it on every click, so a plain action such as "Refresh the list" reads as a toggle
 * ("pressed" after one click), and axe-core reports `aria-allowed-attr` on it. This one renders
 * the same `ToolbarButtonComponent` without a pressed state.
 */
import {
  ToolbarButton,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

export class ActionToolbarButton extends ToolbarButton {
  constructor(private readonly _options: ToolbarButtonComponent.IProps = {}) {
    super(_options);
  }

  render(): JSX.Element {
    return (
      <ToolbarButtonComponent
        {...this._options}
        pressed={undefined}
        enabled={this.enabled}
      />
    );
  }
}
