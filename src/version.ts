// The frontend's own version, read from package.json when the bundle is built.
declare const require: (id: string) => any;

/** Version of this frontend extension. */
export const FRONTEND_VERSION: string = require('../package.json').version;
