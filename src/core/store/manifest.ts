/** Object names of the content store: sha256 hex, fanned out by the first two characters. */
export function objectKey(name: string): string {
  return `objects/${name.slice(0, 2)}/${name}`
}

export function manifestKey(digest: string): string {
  return `manifests/${digest}`
}
