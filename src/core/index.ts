/**
 * Public entry point of the package's pure core (no Node-RED import): what a receiver or a script may use
 * without Node-RED.
 */
export * from './events';
export * from './elements';
export * from './errors';
export * from './graph/client';
export * from './auth';
export { verifyElementsSignature, signElementsBody } from './delivery/signature';
export {
  verifyStandardWebhookSignature,
  signStandardWebhook,
  standardWebhookKey,
  STANDARD_WEBHOOK_TOLERANCE_SECONDS,
  type StandardWebhookVerifyOptions,
} from './delivery/standard-webhooks';
export { formatJavaDate, parseJavaDate, parseDateValue, validateJavaPattern, resolveZone, expandUrlMacros, validateUrlMacros } from './dates';
export { translateHubUrl } from './opencon/hub-url';
export { importInstance } from './opencon/instance-import';
