/** Errors of `teller/jar`. */
import { tellerMessage } from '../util.js';

/**
 * A cookie the jar refused, thrown by `jar.setCookie(line, url, { onReject: 'throw' })`. `step` names
 * the RFC 6265bis rule, e.g. `"5.7 step 13"`.
 */
export class CookieRejectedError extends Error {
  /** The RFC 6265bis section and step that refused the cookie, e.g. `"5.7 step 13"`. */
  readonly step: string;
  constructor(step: string, reason: string, options?: { cause?: unknown }) {
    super(tellerMessage('jar', `cookie rejected by RFC 6265bis ${step}: ${reason}`), options);
    this.name = 'CookieRejectedError';
    this.step = step;
  }
}
