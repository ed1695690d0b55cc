import type { Json } from './edit.js';

/**
 * One version of a kind brought to the next (Terraform's state upgraders are the model): the
 * data is decoded against the schema of version `from` (schemas/<kind>-v<from>, frozen from the
 * last commit that wrote it) before `up` reads it, so a step never guesses at what it is given.
 * `up` returns version `from + 1` (the decoder writes its name) and calls no analysis code: what
 * an older version could not say is filled as not measured.
 */
export interface Step {
  readonly from: number;
  readonly up: (data: Json) => Json;
}
