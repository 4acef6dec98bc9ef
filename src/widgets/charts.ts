/**
 * Small charts drawn as plain SVG (no chart library): a usage bar against the quota and
 * daily bars. Colours are JupyterLab's CSS variables, so both themes look right.
 */
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

/** A horizontal bar: `used` of `limit` (no limit: a thin neutral bar). */
export function usageBar(
  used: number,
  limit: number | null,
  label: string
): SVGElement {
  const width = 120;
  const root = svg('svg', {
    class: 'jp-HubApi-usageBar',
    width,
    height: 8,
    viewBox: `0 0 ${width} 8`,
    role: 'img',
    'aria-label': label
  });
  root.appendChild(
    svg('rect', {
      x: 0,
      y: 0,
      width,
      height: 8,
      rx: 2,
      class: 'jp-HubApi-barTrack'
    })
  );
  const fraction = limit ? Math.min(1, used / limit) : 0;
  const cls =
    fraction >= 0.9
      ? 'jp-HubApi-barFill jp-mod-danger'
      : fraction >= 0.75
        ? 'jp-HubApi-barFill jp-mod-warn'
        : 'jp-HubApi-barFill';
  root.appendChild(
    svg('rect', {
      x: 0,
      y: 0,
      width: Math.max(limit ? 1 : 0, fraction * width),
      height: 8,
      rx: 2,
      class: cls
    })
  );
  const title = svg('title', {});
  title.textContent = label;
  root.appendChild(title);
  return root;
}

/** Bars of values (e.g. calls per day of the month). */
export function barChart(values: readonly number[], label: string): SVGElement {
  const barWidth = 6;
  const gap = 2;
  const height = 48;
  const width = values.length * (barWidth + gap);
  const max = Math.max(1, ...values);
  const root = svg('svg', {
    class: 'jp-HubApi-barChart',
    width,
    height: height + 1,
    viewBox: `0 0 ${width} ${height + 1}`,
    role: 'img',
    'aria-label': label
  });
  values.forEach((value, i) => {
    const h = value === 0 ? 0 : Math.max(2, (value / max) * height);
    const bar = svg('rect', {
      x: i * (barWidth + gap),
      y: height - h,
      width: barWidth,
      height: h,
      class: 'jp-HubApi-barFill'
    });
    const title = svg('title', {});
    title.textContent = `${i + 1}: ${value}`;
    bar.appendChild(title);
    root.appendChild(bar);
  });
  root.appendChild(
    svg('line', {
      x1: 0,
      x2: width,
      y1: height + 0.5,
      y2: height + 0.5,
      class: 'jp-HubApi-axis'
    })
  );
  return root;
}
