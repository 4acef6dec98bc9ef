/** Small React pieces shared by the views of the deployments panel. */
import { Clipboard, Notification } from '@jupyterlab/apputils';
import * as React from 'react';

/** Copy a text and say so. */
export function copyWithNotice(text: string, notice: string): void {
  Clipboard.copyToSystem(text);
  Notification.info(notice, { autoClose: 2000 });
}

/** An endpoint that wraps only after a "/" (never inside a word). */
export function Endpoint(props: { url: string; testid?: string }): JSX.Element {
  // After each "/" of the path (not inside "//").
  const parts = props.url.split(/(?<=[^/]\/)(?!\/)/);
  return (
    <code className="jp-HubApi-endpoint" data-testid={props.testid}>
      {parts.map((part, i) => (
        <React.Fragment key={i}>
          {part}
          {i < parts.length - 1 ? <wbr /> : null}
        </React.Fragment>
      ))}
    </code>
  );
}

/** A problem sentence, announced. */
export function Problem(props: { message: string }): JSX.Element {
  return (
    <div className="jp-HubApi-problem" role="alert">
      {props.message}
    </div>
  );
}

/** A quiet sentence ("Loading…", "No call yet."). */
export function Hint(props: { text: string }): JSX.Element {
  return <p className="jp-HubApi-hint">{props.text}</p>;
}
