/**
 * The base error of the core. Every error the core throws has a stable `code` (for Catch nodes, tests and
 * status texts) and a message a user can act on; none carries a secret (`redact` is applied by callers that
 * quote foreign text).
 */
export class Ms365Error extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Ms365Error';
    this.code = code;
  }
}

/** A setting that cannot be used as given: the message names the setting and what is wrong with it. */
export class ConfigurationError extends Ms365Error {
  readonly setting: string;

  constructor(setting: string, message: string) {
    super('invalid_configuration', `${setting}: ${message}`);
    this.name = 'ConfigurationError';
    this.setting = setting;
  }
}
