import { LabIcon } from '@jupyterlab/ui-components';

import hubSvg from '../style/icons/hub.svg';

/** The product's icon: a cube with an outgoing arrow (a model served as an API). */
export const hubIcon = new LabIcon({
  name: 'jupyter-hub-api:hub',
  svgstr: hubSvg
});
