import { dsse } from '@sigstore/core'

/** DSSE (Dead Simple Signing Envelope): what a signature covers. https://github.com/secure-systems-lab/dsse */

/** The payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'

/** The pre-authentication encoding, the bytes that are signed: `DSSEv1 <len(type)> <type> <len(body)> <body>`. */
export const preAuthEncoding: (payloadType: string, payload: Uint8Array) => Buffer = (payloadType, payload) =>
  dsse.preAuthEncoding(payloadType, Buffer.from(payload))
