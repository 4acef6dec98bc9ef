/**
 * Jobs in the UI: the log panel of each job (restored after a reload), the "deploy" command,
 * and the notifications of job start, success and failure.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { HubClient } from '../api/client';
import { deployOutcome, IJob, isFinal, JobKind } from '../api/types';
import { hubIcon } from '../icons';
import { JobLog } from '../models/jobLog';
import { CommandIDs, IHubApi } from '../tokens';
import { jobTitle, LogPanel } from '../widgets/logPanel';
import { PALETTE_CATEGORY } from './core';

/** The sentence of a job that ended, for its notification. */
export function outcomeMessage(
  job: IJob,
  trans: TranslationBundle,
  endpoint?: string
): string {
  const title = jobTitle(job, trans);
  switch (job.state) {
    case 'succeeded':
      return endpoint
        ? trans.__('%1: live at %2', title, endpoint)
        : trans.__('%1: done.', title);
    case 'failed':
      return trans.__(
        '%1 failed: %2',
        title,
        job.error?.message ?? trans.__('see the log')
      );
    case 'cancelled':
      return trans.__('%1 was cancelled.', title);
    case 'interrupted':
      return trans.__('%1 was interrupted by a server restart.', title);
    default:
      return title;
  }
}

export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hub-api:jobs',
  description: 'Log panels and notifications of Hub API jobs.',
  autoStart: true,
  requires: [IHubApi],
  optional: [ILayoutRestorer, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    hub: IHubApi,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_hub_api');
    const tracker = new WidgetTracker<MainAreaWidget<LogPanel>>({
      namespace: 'hub-api-log'
    });

    const openLog = async (
      jobId: string,
      activate = true,
      project?: string
    ): Promise<MainAreaWidget<LogPanel>> => {
      const existing = tracker.find(w => w.content.jobLog.jobId === jobId);
      if (existing) {
        if (activate) {
          app.shell.activateById(existing.id);
        }
        return existing;
      }
      // A new job of a project whose last job has ended takes that job's tab (one tab per
      // project, not one per deploy); a job still running keeps its own.
      const previous =
        project === undefined
          ? undefined
          : tracker.find(w => {
              const job = w.content.jobLog.model.job;
              return (
                w.isAttached &&
                job !== null &&
                job.project === project &&
                job.kind !== 'model-files' &&
                isFinal(job.state)
              );
            });
      const jobLog = new JobLog(jobId, { maxLines: hub.settings.maxLogLines });
      const content = new LogPanel(jobLog, {
        translator: translator!,
        follow: hub.settings.followTail,
        onRerun: job => {
          notifyStart(job);
          void openLog(job.id, true, job.project);
        }
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `hub-api-log-${jobId}`;
      widget.title.icon = hubIcon;
      widget.title.closable = true;
      widget.title.label = trans.__('Job log');
      const retitle = (job: IJob | null) => {
        if (job) {
          widget.title.label = jobTitle(job, trans);
          widget.title.caption = `${jobTitle(job, trans)} — ${job.state} (${job.id})`;
          widget.title.className = `jp-HubApi-tab jp-mod-${job.state}`;
        }
      };
      jobLog.jobChanged.connect((_, job) => retitle(job));
      jobLog.start();
      await tracker.add(widget);
      // Logs share one area below the editors: the first one splits it off, the next ones
      // open as tabs beside the newest log.
      const sibling =
        previous ?? tracker.find(w => w !== widget && w.isAttached);
      app.shell.add(
        widget,
        'main',
        sibling
          ? { mode: 'tab-after', ref: sibling.id, activate }
          : { mode: 'split-bottom', activate }
      );
      previous?.dispose();
      if (activate) {
        app.shell.activateById(widget.id);
      }
      return widget;
    };

    const notifyStart = (job: IJob) => {
      Notification.info(trans.__('%1 started.', jobTitle(job, trans)), {
        autoClose: 4000,
        actions: [
          {
            label: trans.__('Show log'),
            callback: () => void openLog(job.id, true, job.project)
          }
        ]
      });
    };

    app.commands.addCommand(CommandIDs.openLog, {
      label: trans.__('Show Job Log'),
      execute: args =>
        openLog(
          String(args.jobId),
          args.activate !== false,
          args.project === undefined ? undefined : String(args.project)
        )
    });

    app.commands.addCommand(CommandIDs.deploy, {
      label: args =>
        args.kind === 'build'
          ? trans.__('Build Hub API Project')
          : trans.__('Build and Deploy Hub API Project'),
      caption: trans.__(
        'Run hub build and hub deploy on the project, with the log live'
      ),
      icon: args => (args.isPalette ? undefined : hubIcon),
      execute: async args => {
        const project =
          args.project === undefined ? null : String(args.project);
        if (project === null) {
          void app.commands.execute(CommandIDs.newProject);
          return null;
        }
        const kind = (args.kind as JobKind) ?? 'build+deploy';
        let job: IJob;
        try {
          job = await HubClient.startJob(kind, project);
        } catch (error) {
          Notification.error((error as Error).message, { autoClose: false });
          throw error;
        }
        notifyStart(job);
        if (hub.settings.openLogOnStart || args.openLog === true) {
          await openLog(job.id, true, job.project);
        }
        return job;
      }
    });
    palette?.addItem({
      command: CommandIDs.deploy,
      category: PALETTE_CATEGORY
    });

    // Outcomes of every job (also the ones started in another tab or by a re-run); starts are
    // told by the command that started them.
    hub.jobs.changed.connect((_, { job, previous }) => {
      if (!isFinal(job.state) || (previous && isFinal(previous.state))) {
        return;
      }
      const outcome = deployOutcome(job.result);
      const endpoint = outcome
        ? hub.publicEndpoint(outcome.endpoint)
        : undefined;
      const api = outcome?.api;
      const showLog = {
        label: trans.__('Show log'),
        callback: () => void openLog(job.id)
      };
      if (job.state === 'succeeded') {
        if (job.kind === 'model-files') {
          return; // the wizard goes on by itself; no need to tell
        }
        const actions = [showLog];
        if (endpoint && api) {
          actions.unshift(
            {
              label: trans.__('Test'),
              callback: () =>
                void app.commands.execute(CommandIDs.openApi, {
                  api,
                  tab: 'test'
                })
            },
            {
              label: trans.__('Copy endpoint'),
              callback: () => void Clipboard.copyToSystem(endpoint)
            }
          );
        }
        Notification.success(outcomeMessage(job, trans, endpoint), {
          autoClose: 8000,
          actions
        });
      } else if (job.state === 'cancelled') {
        Notification.warning(outcomeMessage(job, trans), {
          autoClose: 5000,
          actions: [showLog]
        });
      } else {
        Notification.error(outcomeMessage(job, trans), {
          autoClose: false,
          actions: [showLog]
        });
      }
    });

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openLog,
        args: widget => ({
          jobId: widget.content.jobLog.jobId,
          activate: false
        }),
        name: widget => widget.content.jobLog.jobId
      });
    }
  }
};
