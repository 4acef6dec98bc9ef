/**
 * Hub API for JupyterLab: the plugins of the frontend, one per part of the user's journey
 * (DESIGN.md section 1).
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { benchPlugin } from './plugins/bench';
import { corePlugin } from './plugins/core';
import { deploymentsPlugin } from './plugins/deployments';
import { jobsPlugin } from './plugins/jobs';
import { notebookPlugin } from './plugins/notebook';
import { wizardPlugin } from './plugins/wizard';

const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  wizardPlugin,
  jobsPlugin,
  deploymentsPlugin,
  notebookPlugin,
  benchPlugin
];

export default plugins;
