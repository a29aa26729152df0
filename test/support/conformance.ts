/**
 * The conformance cases (../shared/conformance) where Teller answers differently from the data, each with the
 * RFC 6265bis section that justifies it: test/jar/conformance.test.ts fails when a listed case passes or an
 * unlisted one fails, and test/cookie/runtimes.test.ts expects the same on Bun and Deno.
 */

/** Case id -> the RFC 6265bis section that justifies answering differently from the data. */
export type ExpectedFailures = Record<string, string>;

/** wpt-cookies-cases.json: each case justified by the `notes` of the data file. */
export const WPT_CASES_EXPECTED_FAILURES: ExpectedFailures = {
  'attributes/attributes-ctl.sub.html#127':
    '5.7 step 13: "Secure\\t" is the Secure attribute after WSP trimming (5.6), and a Secure cookie from an http:// page is ignored',
  'attributes/attributes-ctl.sub.html#129':
    '5.7 step 19: the last SameSite attribute is None and the cookie is not Secure, so it is ignored',
  'attributes/attributes-ctl.sub.html#130':
    '5.7 step 19: "SameSite=None\\t" is None after trimming; SameSite=None without Secure is ignored',
  'attributes/resources/domain-child.sub.html#47':
    '5.6.3 and 5.7 step 7: "domain=." is the empty domain-attribute once its leading dot is removed, so the cookie is host-only and stored',
};

/** wpt-http-state-2021.json: the 2021 copy predates these 6265bis answers (see parser-6265bis-deltas.json). */
export const WPT_HTTP_STATE_EXPECTED_FAILURES: ExpectedFailures = {
  'optional-domain0042':
    '5.7 steps 7 and 10: the last Domain attribute ("domain=") is empty, so the cookie is host-only and sent back to its host (the IETF delta for OPTIONAL_DOMAIN0042 says the same)',
};
