/** Small DOM helpers shared by the plain Lumino widgets of the extension. */

/** Create an element with a class, attributes and children in one call. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: {
    class?: string;
    text?: string;
    attrs?: Record<string, string>;
    on?: Partial<Record<keyof HTMLElementEventMap, (event: any) => void>>;
  } = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) {
    node.className = props.class;
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  for (const [key, value] of Object.entries(props.attrs ?? {})) {
    node.setAttribute(key, value);
  }
  for (const [event, handler] of Object.entries(props.on ?? {})) {
    node.addEventListener(event, handler as EventListener);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child);
  }
  return node;
}

/** A JupyterLab-styled button. */
export function button(
  label: string,
  onClick: () => void,
  options: {
    accept?: boolean;
    warn?: boolean;
    title?: string;
    testid?: string;
  } = {}
): HTMLButtonElement {
  let cls = 'jp-Button jp-mod-styled jp-HubApi-button';
  if (options.accept) {
    cls += ' jp-mod-accept';
  } else if (options.warn) {
    cls += ' jp-mod-warn';
  } else {
    cls += ' jp-mod-reject';
  }
  const attrs: Record<string, string> = { type: 'button' };
  if (options.title) {
    attrs.title = options.title;
  }
  if (options.testid) {
    attrs['data-testid'] = options.testid;
  }
  return h('button', {
    class: cls,
    text: label,
    attrs,
    on: { click: () => onClick() }
  });
}

/** Bytes for people: "512 B", "3.4 KB", "1.2 GB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) {
    return '';
  }
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
