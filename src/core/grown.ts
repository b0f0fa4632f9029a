/** `into`, a larger typed array, with `from` copied to its start: how columns grown by doubling keep their values. */
export function grown<T extends { set(array: T): void }>(from: T, into: T): T {
  into.set(from)
  return into
}
