/**
 * A hidden command for the benchmark (bench/frontend_bench.js): a real log panel fed with N
 * generated lines, answering how long until they were all appended and rendered.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';

import { JobEvent } from '../api/types';
import { JobLog } from '../models/jobLog';
import { CommandIDs } from '../tokens';
import { LogPanel } from '../widgets/logPanel';

export const benchPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:bench',
  description: 'Measures the log panel (used by the benchmark only).',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    app.commands.addCommand(CommandIDs.benchLog, {
      label: 'Hub API: log panel benchmark',
      execute: async args => {
        const lines = Number(args.lines ?? 100000);
        const batch = Number(args.batch ?? 1000);
        // A socket that never connects: the panel is fed directly, as the stream would.
        const jobLog = new JobLog('bench', {
          maxLines: 0,
          socketFactory: () => ({
            onmessage: null,
            onclose: null,
            onerror: null,
            close: () => undefined
          })
        });
        const content = new LogPanel(jobLog);
        const widget = new MainAreaWidget({ content });
        widget.id = 'hub-api-bench-log';
        widget.title.label = 'Log benchmark';
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        const start = performance.now();
        let offset = 0;
        await new Promise<void>(resolve => {
          const pump = () => {
            const events: JobEvent[] = [];
            for (let i = 0; i < batch && offset < lines; i++, offset++) {
              events.push({
                offset,
                event: 'log',
                stream: 'stdout',
                line: `line ${offset} \x1b[32mok\x1b[0m some text to make it a realistic length`
              });
            }
            jobLog.model.appendEvents(events);
            if (offset < lines) {
              setTimeout(pump, 0);
            } else {
              resolve();
            }
          };
          pump();
        });
        // Wait for the render that shows the last line.
        await new Promise<void>(resolve => {
          const check = (_: unknown, n: number) => {
            if (n >= lines) {
              content.view.rendered.disconnect(check);
              resolve();
            }
          };
          content.view.rendered.connect(check);
        });
        const elapsed = performance.now() - start;
        const rows = content.node.querySelectorAll('.jp-HubApi-logLine').length;
        return { lines, ms: elapsed, domRows: rows };
      }
    });
  }
};
