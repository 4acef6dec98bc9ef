/**
 * Hub API for JupyterLab: the plugins of the frontend, one per part of the user's journey
 * (launcher and wizard, jobs and logs, deployments, the notebook button).
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { corePlugin } from './plugins/core';
import { deploymentsPlugin } from './plugins/deployments';
import { jobsPlugin } from './plugins/jobs';
import { notebookPlugin } from './plugins/notebook';
import { tryInKernelPlugin } from './plugins/tryInKernel';
import { wizardPlugin } from './plugins/wizard';

const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  wizardPlugin,
  jobsPlugin,
  deploymentsPlugin,
  notebookPlugin,
  tryInKernelPlugin
];

export default plugins;
