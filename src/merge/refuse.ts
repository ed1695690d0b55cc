import { LabError } from '../errors.js';

/** Files that are not the shards of one load: what is wrong, and what to give instead. */
export const refuse = (why: string, fix: string) =>
  new LabError('KAL_RESULTS_UNMERGEABLE', why, { problems: [{ path: 'merge', message: fix }] });
