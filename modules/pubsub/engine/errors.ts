// XEP-0060 §7-§8 error answers: a stanza error condition with its pubsub#errors application condition.
import { StanzaError, xml, type StanzaErrorCondition, type StanzaErrorType } from '../../../src/sdk.js';
import { NS_ERRORS } from './types.js';

/** A stanza error carrying `<app xmlns='…#errors'/>` (and feature='…' for <unsupported/>). */
export function pubsubError(condition: StanzaErrorCondition, app?: string, opts: { text?: string; type?: StanzaErrorType; feature?: string } = {}): StanzaError {
  const appEl = app ? xml(app, { xmlns: NS_ERRORS, ...(opts.feature ? { feature: opts.feature } : {}) }) : undefined;
  return new StanzaError(condition, opts.text, opts.type, appEl);
}

/** feature-not-implemented with <unsupported feature='…'/> (§6.1.3.1 and friends). */
export const unsupported = (feature: string, text?: string): StanzaError => pubsubError('feature-not-implemented', 'unsupported', { feature, text });
export const nodeNotFound = (node: string): StanzaError => new StanzaError('item-not-found', `no node "${node}"`);
export const nodeIdRequired = (): StanzaError => pubsubError('bad-request', 'nodeid-required');
