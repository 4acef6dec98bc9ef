/**
 * A picker over the server's file tree: browse folders, tick files or whole folders, see their
 * sizes and the total of what is picked. A view of `WizardModel`, which lists the folders
 * (`openFolder`, `GET /hub-api/files`) and keeps what is picked. A search box (JupyterLab's
 * `jp-InputGroup`, as its file browser's filter) narrows the folder's rows by name as one types;
 * Escape or its clear button shows them all again; picked files it hides stay picked.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  closeIcon,
  fileIcon,
  folderIcon,
  searchIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { IFolderListing } from '../api/types';
import {
  IPickedFile,
  IWizardServices,
  pickedOf,
  WizardModel
} from '../models/wizard';
import { formatBytes, h } from './dom';

/** The model-files step of the wizard. */
export class FilePicker extends Widget {
  constructor(
    private _model: WizardModel,
    private _services: IWizardServices,
    private _trans: TranslationBundle,
    folder = ''
  ) {
    super();
    this.addClass('jp-HubApi-filePicker');
    this._crumbs = h('nav', {
      class: 'jp-HubApi-crumbs',
      attrs: { 'aria-label': _trans.__('Folder') }
    });
    this._search = h('input', {
      class: 'jp-HubApi-fileSearch',
      attrs: {
        type: 'search',
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: _trans.__('Filter files by name'),
        'aria-label': _trans.__('Filter the files of this folder by name'),
        'aria-controls': 'hub-api-file-table',
        'data-testid': 'file-search'
      },
      on: {
        input: () => (this._model.fileFilter = this._search.value),
        keydown: (e: KeyboardEvent) => {
          if (e.key === 'Escape' && this._search.value) {
            // Clears the filter only: the wizard's own Escape handling is not reached.
            e.preventDefault();
            e.stopPropagation();
            this._clearFilter();
          }
        }
      }
    });
    this._search.value = _model.fileFilter;
    this._clear = h(
      'button',
      {
        class: 'jp-HubApi-fileSearchClear jp-mod-minimal jp-Button',
        attrs: {
          type: 'button',
          title: _trans.__('Clear the filter'),
          'aria-label': _trans.__('Clear the filter'),
          'data-testid': 'file-search-clear'
        },
        on: { click: () => this._clearFilter() }
      },
      closeIcon.element({ tag: 'span' })
    );
    this._matches = h('div', {
      class: 'jp-sr-only',
      attrs: { role: 'status', 'aria-live': 'polite' }
    });
    const searchBox = h(
      'div',
      {
        class: 'jp-InputGroup jp-HubApi-fileSearchBox',
        attrs: { role: 'search' }
      },
      this._search,
      h(
        'span',
        { class: 'jp-InputGroupAction' },
        searchIcon.element({ tag: 'span' })
      ),
      this._clear
    );
    this._table = h('table', {
      class: 'jp-HubApi-fileTable',
      attrs: { 'data-testid': 'file-table', id: 'hub-api-file-table' }
    });
    this._error = h('div', {
      class: 'jp-HubApi-fieldError',
      attrs: { role: 'alert', id: 'hub-api-files-error' }
    });
    this._picked = h('div', {
      class: 'jp-HubApi-picked',
      attrs: { 'data-testid': 'picked-files' }
    });
    this.node.append(
      this._crumbs,
      searchBox,
      this._matches,
      h('div', { class: 'jp-HubApi-fileScroll' }, this._table),
      this._error,
      this._picked
    );
    this._model.changed.connect(this._onChanged, this);
    this._onChanged();
    void this.open(folder);
  }

  /** The folder shown. */
  get folder(): string {
    return this._model.folder;
  }

  /** Show a folder. */
  open(folder: string): Promise<void> {
    this._error.textContent = '';
    return this._model.openFolder(this._services, folder);
  }

  /** Show the server's message at the field (e.g. a file the server could not find). */
  showError(message: string): void {
    this._error.textContent = message;
  }

  /** Show every row of the folder again, and keep the focus in the search box. */
  private _clearFilter(): void {
    this._search.value = '';
    this._model.fileFilter = '';
    this._search.focus();
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._model.changed.disconnect(this._onChanged, this);
    }
    super.dispose();
  }

  private _onChanged(): void {
    const model = this._model;
    if (model.listingError) {
      this._error.textContent = model.listingError;
    }
    // The folder's rows only when another listing arrived: a tick keeps its focus.
    if (model.listing !== this._listing) {
      this._listing = model.listing;
      this._renderCrumbs();
      this._renderTable();
    } else if (model.fileFilter !== this._filter) {
      this._renderTable();
    }
    if (this._search.value !== model.fileFilter) {
      this._search.value = model.fileFilter;
    }
    this._clear.hidden = !model.fileFilter;
    this._renderPicked();
  }

  private _renderCrumbs(): void {
    const parts = this.folder.split('/').filter(Boolean);
    const crumbs: Node[] = [
      h('button', {
        class: 'jp-HubApi-crumb',
        text: this._trans.__('Server root'),
        attrs: { type: 'button' },
        on: { click: () => void this.open('') }
      })
    ];
    parts.forEach((part, i) => {
      crumbs.push(document.createTextNode(' / '));
      crumbs.push(
        h('button', {
          class: 'jp-HubApi-crumb',
          text: part,
          attrs: { type: 'button' },
          on: { click: () => void this.open(parts.slice(0, i + 1).join('/')) }
        })
      );
    });
    this._crumbs.replaceChildren(...crumbs);
  }

  private _renderTable(): void {
    const trans = this._trans;
    const rows: HTMLElement[] = [];
    if (this.folder) {
      const up = this.folder.split('/').slice(0, -1).join('/');
      rows.push(
        h(
          'tr',
          {},
          h('td'),
          h(
            'td',
            {},
            h('button', {
              class: 'jp-HubApi-linkButton',
              text: '..',
              attrs: { type: 'button', title: trans.__('Parent folder') },
              on: { click: () => void this.open(up) }
            })
          ),
          h('td')
        )
      );
    }
    this._filter = this._model.fileFilter;
    const shown = this._model.filteredEntries;
    for (const entry of shown) {
      const isDir = entry.type === 'directory';
      const file: IPickedFile = pickedOf(entry);
      const box = h('input', {
        attrs: {
          type: 'checkbox',
          'aria-label': trans.__('Copy %1 into model/', entry.name),
          'data-path': entry.path
        },
        on: {
          change: (e: Event) =>
            this._model.toggleFile(file, (e.target as HTMLInputElement).checked)
        }
      });
      box.checked = this._model.files.has(entry.path);
      const icon = (isDir ? folderIcon : fileIcon).element({
        className: 'jp-HubApi-fileIcon',
        tag: 'span'
      });
      const name = isDir
        ? h('button', {
            class: 'jp-HubApi-linkButton',
            text: entry.name + '/',
            attrs: { type: 'button', title: trans.__('Open folder') },
            on: { click: () => void this.open(entry.path) }
          })
        : h('label', { text: entry.name });
      const badge = entry.mlflow
        ? h('span', {
            class: 'jp-HubApi-badge',
            text: entry.mlflow.error
              ? trans.__('MLflow model: %1', entry.mlflow.error)
              : trans.__('MLflow model'),
            attrs: { 'data-testid': 'mlflow-badge' }
          })
        : null;
      rows.push(
        h(
          'tr',
          { attrs: { 'data-name': entry.name } },
          h('td', {}, box),
          h('td', {}, icon, name, badge ? ' ' : null, badge),
          h('td', {
            class: 'jp-HubApi-size',
            text: isDir ? '' : formatBytes(entry.size)
          })
        )
      );
    }
    const query = this._filter.trim();
    if (query && this._listing?.entries.length && !shown.length) {
      rows.push(
        h(
          'tr',
          {},
          h('td', {
            attrs: { colspan: '3', 'data-testid': 'file-search-empty' },
            text: trans.__("No file matches '%1'.", query)
          })
        )
      );
    }
    this._matches.textContent = query
      ? trans._n('%1 entry matches', '%1 entries match', shown.length)
      : '';
    if (!this._listing?.entries.length) {
      rows.push(
        h(
          'tr',
          {},
          h('td', {
            attrs: { colspan: '3' },
            text: trans.__('This folder is empty.')
          })
        )
      );
    }
    if (this._listing?.truncated) {
      rows.push(
        h(
          'tr',
          {},
          h('td', {
            attrs: { colspan: '3' },
            text: trans.__('Only the first entries are shown.')
          })
        )
      );
    }
    this._table.replaceChildren(...rows);
  }

  private _renderPicked(): void {
    const trans = this._trans;
    const files = [...this._model.files.values()];
    if (!files.length) {
      this._picked.replaceChildren(
        h('p', {
          class: 'jp-HubApi-hint',
          text: trans.__(
            'No model file picked. You can also copy files into model/ later.'
          )
        })
      );
    } else {
      const folders = files.some(f => f.directory);
      this._picked.replaceChildren(
        h(
          'p',
          {},
          trans._n('%1 item picked', '%1 items picked', files.length),
          ', ',
          h('strong', {
            text:
              trans.__('total %1', formatBytes(this._model.totalSize)) +
              (folders ? trans.__(' plus folders') : ''),
            attrs: { 'data-testid': 'picked-total' }
          })
        ),
        h(
          'ul',
          {},
          ...files.map(f =>
            h(
              'li',
              {},
              h('code', { text: f.path + (f.directory ? '/' : '') }),
              ' ',
              h('span', { class: 'jp-HubApi-size', text: formatBytes(f.size) }),
              ' ',
              h('button', {
                class: 'jp-HubApi-linkButton',
                text: trans.__('remove'),
                attrs: { type: 'button' },
                on: { click: () => this._model.toggleFile(f, false) }
              })
            )
          )
        )
      );
    }
    // Keep the ticks of the table in step (a removal from the list unticks the row).
    for (const box of this._table.querySelectorAll<HTMLInputElement>(
      'input[data-path]'
    )) {
      box.checked = this._model.files.has(box.dataset.path!);
    }
  }

  private _listing: IFolderListing | null = null;
  private _filter = '';
  private _search: HTMLInputElement;
  private _clear: HTMLButtonElement;
  private _matches: HTMLDivElement;
  private _crumbs: HTMLElement;
  private _table: HTMLTableElement;
  private _error: HTMLDivElement;
  private _picked: HTMLDivElement;
}
