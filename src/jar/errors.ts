/** Errors of `teller/jar`. */
import { tellerMessage } from '../util.js';

/**
 * A cookie the jar refused, thrown by `jar.setCookie(line, url, { onReject: 'throw' })`. `step` names
 * the RFC 6265bis rule, e.g. `"5.7 step 13"`, or for the `__Http-` and `__Host-Http-` prefixes the rule
 * of its successor draft, layered cookies, e.g. `"layered-cookies 5.4.3 step 15"`, or `"CHIPS"` for
 * the rule of partitioned cookies, or `"Chromium"` for a rule of the `'chromium'` profile.
 */
export class CookieRejectedError extends Error {
  /**
   * The RFC 6265bis section and step that refused the cookie, e.g. `"5.7 step 13"`; a rule of the
   * layered-cookies draft is named with the draft, e.g. `"layered-cookies 5.4.3 step 16"`.
   */
  readonly step: string;
  constructor(step: string, reason: string, options?: { cause?: unknown }) {
    super(tellerMessage('jar', `cookie rejected by ${ruleOf(step)}: ${reason}`), options);
    this.name = 'CookieRejectedError';
    this.step = step;
  }
}

/** A step as the message names it: RFC 6265bis's sections start with a digit, a draft's with its name. */
function ruleOf(step: string): string {
  const first = step.charCodeAt(0);
  return first >= 0x30 && first <= 0x39 ? `RFC 6265bis ${step}` : step;
}
