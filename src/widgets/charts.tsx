/**
 * Small charts drawn as plain SVG (no chart library): a usage bar against the quota and
 * daily bars. Colours are JupyterLab's CSS variables, so both themes look right.
 */
import * as React from 'react';

/** A horizontal bar: `used` of `limit` (no limit: a thin neutral bar). */
export function UsageBar(props: {
  used: number;
  limit: number | null;
  label: string;
}): JSX.Element {
  const { used, limit, label } = props;
  const width = 120;
  const fraction = limit ? Math.min(1, used / limit) : 0;
  const level =
    fraction >= 0.9 ? ' jp-mod-danger' : fraction >= 0.75 ? ' jp-mod-warn' : '';
  return (
    <svg
      className="jp-HubApi-usageBar"
      width={width}
      height={8}
      viewBox={`0 0 ${width} 8`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <rect
        x={0}
        y={0}
        width={width}
        height={8}
        rx={2}
        className="jp-HubApi-barTrack"
      />
      <rect
        x={0}
        y={0}
        width={Math.max(limit ? 1 : 0, fraction * width)}
        height={8}
        rx={2}
        className={`jp-HubApi-barFill${level}`}
      />
    </svg>
  );
}

/** Bars of values (e.g. calls per day of the month); a bar's title says its day and value. */
export function BarChart(props: {
  values: readonly number[];
  label: string;
}): JSX.Element {
  const { values, label } = props;
  const barWidth = 6;
  const gap = 2;
  const height = 48;
  const width = values.length * (barWidth + gap);
  const max = Math.max(1, ...values);
  return (
    <svg
      className="jp-HubApi-barChart"
      width={width}
      height={height + 1}
      viewBox={`0 0 ${width} ${height + 1}`}
      role="img"
      aria-label={label}
    >
      {values.map((value, i) => {
        const h = value === 0 ? 0 : Math.max(2, (value / max) * height);
        return (
          <rect
            key={i}
            x={i * (barWidth + gap)}
            y={height - h}
            width={barWidth}
            height={h}
            className="jp-HubApi-barFill"
          >
            <title>{`${i + 1}: ${value}`}</title>
          </rect>
        );
      })}
      <line
        x1={0}
        x2={width}
        y1={height + 0.5}
        y2={height + 0.5}
        className="jp-HubApi-axis"
      />
    </svg>
  );
}
