/** Errors of `teller/jar`. */
import { tellerMessage } from '../util.js';

/**
 * A cookie the jar refused, thrown by `jar.setCookie(line, url, { onReject: 'throw' })`. `step` names
 * the RFC 6265bis rule, e.g. `"5.7 step 13"`, or `"Chromium"` for a rule of the `'chromium'` profile.
 */
export class CookieRejectedError extends Error {
  /** The RFC 6265bis section and step that refused the cookie, e.g. `"5.7 step 13"`, or `"Chromium"`. */
  readonly step: string;
  constructor(step: string, reason: string, options?: { cause?: unknown }) {
    const by = step === 'Chromium' ? 'Chromium' : `RFC 6265bis ${step}`;
    super(tellerMessage('jar', `cookie rejected by ${by}: ${reason}`), options);
    this.name = 'CookieRejectedError';
    this.step = step;
  }
}
