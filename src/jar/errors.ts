/** Errors of `teller/jar`. */
import { tellerMessage } from '../util.js';

/**
 * A cookie the jar refused, thrown by `jar.setCookie(line, url, { onReject: 'throw' })`. `step` names
 * the RFC 6265bis rule, e.g. `"5.7 step 13"`, or `"CHIPS"` for the rule of partitioned cookies.
 */
export class CookieRejectedError extends Error {
  /** The RFC 6265bis section and step that refused the cookie, e.g. `"5.7 step 13"`; or `"CHIPS"`. */
  readonly step: string;
  constructor(step: string, reason: string, options?: { cause?: unknown }) {
    // A step of RFC 6265bis starts with its section number; another rule (CHIPS) is named as it is.
    const rule = /^\d/.test(step) ? `RFC 6265bis ${step}` : step;
    super(tellerMessage('jar', `cookie rejected by ${rule}: ${reason}`), options);
    this.name = 'CookieRejectedError';
    this.step = step;
  }
}
