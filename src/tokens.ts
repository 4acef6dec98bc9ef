/** Versions reported by `GET /hub-api/status`. */
export interface IServerStatus {
  /** Version of the Python package that holds the server extension. */
  server_extension: string;
  /** Version printed by `hub --version`, or null when the CLI could not be run. */
  cli: string | null;
  /** Why the CLI could not be run, when it could not. */
  cli_error?: string | null;
}

/** Command ids of the extension. */
export namespace CommandIDs {
  export const openStatus = 'hub-api:open';
}
