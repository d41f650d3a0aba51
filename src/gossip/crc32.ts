/**
 * CRC-32 (IEEE 802.3, the zlib one) over a byte range. Every gossip message ends with it.
 * Signatures and noise's MAC already protect bytes on the libp2p path; the checksum is the
 * S3 lesson applied inside the core itself, so the simulator (no signatures) and any
 * future transport reject a flipped bit at the first hop too. CRC-32 detects every
 * error of 1 to 3 bits and every burst of up to 32 bits in messages of our size.
 */
const TABLE = makeTable();

function makeTable(): Int32Array {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
}

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
