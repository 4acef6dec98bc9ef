/**
 * The API key table: reveal, copy, create, disable, enable and delete (delete asks first;
 * the others are undoable and do not).
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { HubClient } from '../api/client';
import { IApiKey } from '../api/types';
import { DeploymentsModel } from '../models/deployments';
import { button, copyText, h } from './dom';

/** The table of the user's API keys. */
export class KeyTable extends Widget {
  constructor(
    private _model: DeploymentsModel,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HubApi-keyTable');
    this.node.setAttribute('data-testid', 'key-table');
    this._model.changed.connect(this._render, this);
    this._render();
  }

  /** The secrets revealed in this view (kept in memory only, never stored). */
  get revealed(): ReadonlyMap<string, string> {
    return this._revealed;
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._model.changed.disconnect(this._render, this);
    }
    super.dispose();
  }

  private _render(): void {
    const trans = this._trans;
    const keys = this._model.keys;
    const nameInput = h('input', {
      class: 'jp-mod-styled',
      attrs: {
        type: 'text',
        placeholder: trans.__('name of the new key'),
        'aria-label': trans.__('Name of the new key'),
        'data-testid': 'new-key-name'
      }
    });
    const create = button(
      trans.__('Create key'),
      () => void this._create(nameInput.value || 'key'),
      { accept: true, testid: 'create-key' }
    );
    const rows = keys.map(key => this._row(key));
    const table = h(
      'table',
      { class: 'jp-HubApi-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            trans.__('Name'),
            trans.__('Key'),
            trans.__('State'),
            trans.__('Last used'),
            ''
          ].map(t => h('th', { text: t }))
        )
      ),
      h('tbody', {}, ...rows)
    );
    this.node.replaceChildren(
      keys.length
        ? table
        : h('p', {
            class: 'jp-HubApi-hint',
            text: trans.__('No API key yet. Create one to call your APIs.')
          }),
      h('div', { class: 'jp-HubApi-row' }, nameInput, create)
    );
  }

  private _row(key: IApiKey): HTMLElement {
    const trans = this._trans;
    const secret = this._revealed.get(key.id);
    const keyCell = h('td', { class: 'jp-HubApi-keyCell' });
    if (secret) {
      keyCell.append(
        h('code', { text: secret, attrs: { 'data-testid': 'key-secret' } }),
        ' ',
        button(
          trans.__('Copy'),
          () =>
            void copyText(secret).then(() =>
              Notification.info(trans.__('Key copied.'), { autoClose: 2000 })
            )
        ),
        button(trans.__('Hide'), () => {
          this._revealed.delete(key.id);
          this._render();
        })
      );
    } else {
      keyCell.append(
        h('code', { text: `${key.prefix}…` }),
        ' ',
        button(trans.__('Reveal'), () => void this._reveal(key), {
          testid: 'reveal-key',
          title: trans.__('Show the whole key')
        })
      );
    }
    const toggle = key.enabled
      ? button(trans.__('Disable'), () => void this._setEnabled(key, false))
      : button(trans.__('Enable'), () => void this._setEnabled(key, true), {
          accept: true
        });
    return h(
      'tr',
      { attrs: { 'data-key-id': key.id, 'data-key-name': key.name } },
      h('td', { text: key.name }),
      keyCell,
      h('td', {
        text: key.enabled ? trans.__('enabled') : trans.__('disabled'),
        class: key.enabled ? 'jp-mod-ok' : 'jp-mod-off'
      }),
      h('td', {
        text: key.last_used_at
          ? new Date(key.last_used_at).toLocaleString()
          : trans.__('never')
      }),
      h(
        'td',
        { class: 'jp-HubApi-actions' },
        toggle,
        button(trans.__('Delete'), () => void this._delete(key), { warn: true })
      )
    );
  }

  private async _act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      Notification.error((error as Error).message);
    }
  }

  private _reveal(key: IApiKey): Promise<void> {
    return this._act(async () => {
      this._revealed.set(key.id, await HubClient.revealKey(key.id));
      this._render();
    });
  }

  private _create(name: string): Promise<void> {
    return this._act(async () => {
      const created = await HubClient.createKey(name);
      this._revealed.set(created.key.id, created.secret);
      await this._model.refreshKeys();
    });
  }

  private _setEnabled(key: IApiKey, enabled: boolean): Promise<void> {
    return this._act(async () => {
      await HubClient.setKeyEnabled(key.id, enabled);
      await this._model.refreshKeys();
    });
  }

  private async _delete(key: IApiKey): Promise<void> {
    const trans = this._trans;
    const answer = await showDialog({
      title: trans.__('Delete the key "%1"?', key.name),
      body: trans.__(
        'Every client that uses it gets 403 from then on. This cannot be undone; disable it instead to stop it for a while.'
      ),
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    await this._act(async () => {
      await HubClient.deleteKey(key.id);
      this._revealed.delete(key.id);
      await this._model.refreshKeys();
    });
  }

  private _revealed = new Map<string, string>();
}
