import { redactUrl, targetUrlProblem } from '../config/url.js';
import { LabError } from '../errors.js';

export { redactUrl };

/** The target URL, or a LabError naming `field` (the flag or key that gave it). */
export function parseTargetUrl(raw: string, field = 'url'): URL {
  const problem = targetUrlProblem(raw);
  if (problem) {
    throw new LabError('KAL_URL_INVALID', problem, {
      problems: [{ path: field, message: problem }],
    });
  }
  return new URL(raw);
}
