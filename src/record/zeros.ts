// A count per name, every one zero: the starting value of the records' Record<Name, number> maps
// (close reasons, error classes, HTTP/2 events), built from the same const lists the types are.

export const zeros = <K extends string>(keys: readonly K[]): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
