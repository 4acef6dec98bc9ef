/**
 * The API key table: reveal, copy, create, disable, enable and delete (delete asks first;
 * the others are undoable and do not). A view of `DeploymentsModel`, which makes the calls
 * and keeps the secrets revealed in this session.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, Table, VDomRenderer } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IApiKey } from '../api/types';
import { DeploymentsModel } from '../models/deployments';
import { copyWithNotice } from './parts';

/** The table of the user's API keys. */
export class KeyTable extends VDomRenderer<DeploymentsModel> {
  constructor(
    model: DeploymentsModel,
    private _trans: TranslationBundle
  ) {
    super(model);
    this.addClass('jp-HubApi-keyTable');
    this.node.setAttribute('data-testid', 'key-table');
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const keys = this.model.keys;
    const columns: Table.IColumn<IApiKey>[] = [
      {
        id: 'name',
        label: trans.__('Name'),
        renderCell: key => key.name,
        sort: (a, b) => a.name.localeCompare(b.name)
      },
      {
        id: 'key',
        label: trans.__('Key'),
        renderCell: key => this._keyCell(key),
        sort: () => undefined
      },
      {
        id: 'state',
        label: trans.__('State'),
        renderCell: key => (
          <span className={key.enabled ? 'jp-mod-ok' : 'jp-mod-off'}>
            {key.enabled ? trans.__('enabled') : trans.__('disabled')}
          </span>
        ),
        sort: (a, b) => Number(b.enabled) - Number(a.enabled)
      },
      {
        id: 'used',
        label: trans.__('Last used'),
        renderCell: key =>
          key.last_used_at
            ? new Date(key.last_used_at).toLocaleString()
            : trans.__('never'),
        sort: (a, b) =>
          (a.last_used_at ?? '').localeCompare(b.last_used_at ?? '')
      },
      {
        id: 'actions',
        label: trans.__('Actions'),
        renderCell: key => (
          <div className="jp-HubApi-actions">
            {/* Disable is undoable (a quiet button); Enable is the way back. */}
            <Button
              small
              minimal={key.enabled}
              onClick={() =>
                void this._act(() =>
                  this.model.setKeyEnabled(key.id, !key.enabled)
                )
              }
            >
              {key.enabled ? trans.__('Disable') : trans.__('Enable')}
            </Button>
            <Button
              small
              minimal
              className="jp-mod-warn"
              onClick={() => void this._delete(key)}
            >
              {trans.__('Delete')}
            </Button>
          </div>
        ),
        sort: () => undefined
      }
    ];
    return (
      <>
        {keys.length ? (
          <Table<IApiKey>
            columns={columns}
            rows={keys.map(key => ({ data: key, key: key.id }))}
            blankIndicator={() => null}
          />
        ) : (
          <p className="jp-HubApi-hint">
            {trans.__('No API key yet. Create one to call your APIs.')}
          </p>
        )}
        <form
          className="jp-HubApi-row"
          onSubmit={event => {
            event.preventDefault();
            void this._create();
          }}
        >
          <input
            ref={this._name}
            className="jp-mod-styled"
            type="text"
            placeholder={trans.__('name of the new key')}
            aria-label={trans.__('Name of the new key')}
            data-testid="new-key-name"
          />
          <Button
            type="submit"
            className="jp-mod-styled jp-mod-accept"
            data-testid="create-key"
          >
            {trans.__('Create key')}
          </Button>
        </form>
      </>
    );
  }

  private _keyCell(key: IApiKey): JSX.Element {
    const trans = this._trans;
    const secret = this.model.revealed.get(key.id);
    return (
      <div className="jp-HubApi-keyCell">
        {secret ? (
          <>
            <code data-testid="key-secret">{secret}</code>
            <Button
              small
              minimal
              onClick={() => copyWithNotice(secret, trans.__('Key copied.'))}
            >
              {trans.__('Copy')}
            </Button>
            <Button small minimal onClick={() => this.model.hide(key.id)}>
              {trans.__('Hide')}
            </Button>
          </>
        ) : (
          <>
            <code>{`${key.prefix}…`}</code>
            <Button
              small
              minimal
              title={trans.__('Show the whole key')}
              data-testid="reveal-key"
              onClick={() => void this._act(() => this.model.reveal(key.id))}
            >
              {trans.__('Reveal')}
            </Button>
          </>
        )}
      </div>
    );
  }

  private async _act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      Notification.error((error as Error).message);
    }
  }

  private async _create(): Promise<void> {
    const input = this._name.current;
    await this._act(async () => {
      await this.model.createKey(input?.value ?? '');
      if (input) {
        input.value = '';
      }
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
      ],
      // The safe choice has the focus (issue 11: not the destructive button).
      defaultButton: 0
    });
    if (answer.button.accept) {
      await this._act(() => this.model.deleteKey(key.id));
    }
  }

  private _name = React.createRef<HTMLInputElement>();
}
