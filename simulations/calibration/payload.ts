/** A calibration message of `size` bytes: its id in the first 4 bytes (big-endian), zeros after. */
export function calibrationPayload(id: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, id);
  return b;
}

/** The id `calibrationPayload` wrote. */
export function calibrationPayloadId(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}
