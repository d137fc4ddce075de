/** What the core needs to log; a Node-RED node satisfies it (`node.log/warn/error/debug`). */
export interface Logger {
  debug(message: string): void;
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  log() {},
  warn() {},
  error() {},
};
