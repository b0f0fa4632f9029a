/** DSSE (Dead Simple Signing Envelope): what a signature covers. https://github.com/secure-systems-lab/dsse */

/** The payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'

/**
 * The pre-authentication encoding, the bytes that are actually signed:
 * `DSSEv1 <len(type)> <type> <len(body)> <body>`, lengths in bytes as ASCII decimal.
 */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'ascii'), type, Buffer.from(` ${payload.length} `, 'ascii'), payload])
}
