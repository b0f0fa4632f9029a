import { IntegrityError } from '../errors.js'
import type { ManifestColumns } from '../manifest/columns.js'
import { Codec } from '../manifest/model.js'

/** The columns of a manifest's location part. */
export type LocationColumns = Pick<
  ManifestColumns,
  'objects' | 'objectIndexes' | 'offsets' | 'lengths' | 'blobSizes' | 'codecs' | 'withins' | 'frameSizes'
>

/** In `codecs`, a blob not located yet. */
const UNSET = 255

/**
 * Where a save's blobs are stored, as the typed columns a manifest's location part holds, indexed
 * by digest number (see DigestTable) and grown by doubling. A location is set once its blob is
 * known to be stored or about to be, and completed (its object, say) once that is settled.
 */
export class BlobLocations {
  private readonly objects: string[] = []
  private readonly objectNumbers = new Map<string, number>()
  private capacity = 1024
  objectIndexes = new Uint32Array(this.capacity)
  offsets = new Float64Array(this.capacity)
  lengths = new Float64Array(this.capacity)
  sizes = new Float64Array(this.capacity)
  codecs = new Uint8Array(this.capacity).fill(UNSET)
  withins = new Float64Array(this.capacity)
  frameSizes = new Float64Array(this.capacity)

  has(k: number): boolean {
    return k < this.capacity && this.codecs[k] !== UNSET
  }

  object(k: number): string {
    return this.objects[this.objectIndexes[k]]
  }

  /** Sets blob `k`'s location (`within` and `frameSize` only for a blob in a shared frame). */
  set(
    k: number,
    object: string,
    offset: number,
    length: number,
    size: number,
    codec: number,
    within = 0,
    frameSize = 0
  ) {
    if (k >= this.capacity) this.grow(k)
    this.objectIndexes[k] = this.objectNumber(object)
    this.offsets[k] = offset
    this.lengths[k] = length
    this.sizes[k] = size
    this.codecs[k] = codec
    this.withins[k] = within
    this.frameSizes[k] = frameSize
  }

  /** Sets blob `k`'s location to where blob `from` of some columns is. */
  copy(k: number, columns: ManifestColumns, from: number): void {
    const codec = columns.codecs[from]
    const shared = codec === Codec.sharedFrame
    this.set(
      k,
      columns.objects[columns.objectIndexes[from]],
      columns.offsets[from],
      columns.lengths[from],
      columns.blobSizes[from],
      codec,
      shared ? columns.withins[from] : 0,
      shared ? columns.frameSizes[from] : 0
    )
  }

  /** Names blob `k`'s object, once it is known. */
  setObject(k: number, object: string): void {
    this.objectIndexes[k] = this.objectNumber(object)
  }

  /** The columns of blobs 0 to `count - 1`, all of which must be located; `pathOf` names one that is not. */
  columns(count: number, pathOf: (k: number) => string): LocationColumns {
    for (let k = 0; k < count; k++)
      if (!this.has(k)) throw new IntegrityError(`manifest has no location for a piece of ${JSON.stringify(pathOf(k))}`)
    return {
      objects: this.objects,
      objectIndexes: this.objectIndexes.subarray(0, count),
      offsets: this.offsets.subarray(0, count),
      lengths: this.lengths.subarray(0, count),
      blobSizes: this.sizes.subarray(0, count),
      codecs: this.codecs.subarray(0, count),
      withins: this.withins.subarray(0, count),
      frameSizes: this.frameSizes.subarray(0, count)
    }
  }

  private objectNumber(object: string): number {
    let o = this.objectNumbers.get(object)
    if (o === undefined) this.objectNumbers.set(object, (o = this.objects.push(object) - 1))
    return o
  }

  private grow(k: number): void {
    let capacity = this.capacity
    while (capacity <= k) capacity *= 2
    const grown = <T extends Uint32Array | Float64Array | Uint8Array>(from: T, into: T): T => {
      into.set(from)
      return into
    }
    this.objectIndexes = grown(this.objectIndexes, new Uint32Array(capacity))
    this.offsets = grown(this.offsets, new Float64Array(capacity))
    this.lengths = grown(this.lengths, new Float64Array(capacity))
    this.sizes = grown(this.sizes, new Float64Array(capacity))
    this.codecs = grown(this.codecs, new Uint8Array(capacity).fill(UNSET))
    this.withins = grown(this.withins, new Float64Array(capacity))
    this.frameSizes = grown(this.frameSizes, new Float64Array(capacity))
    this.capacity = capacity
  }
}
