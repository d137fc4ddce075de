export * from './java-pattern';
export * from './url-macros';
