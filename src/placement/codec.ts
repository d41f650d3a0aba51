import { Packr } from 'msgpackr';
import { defaultPlacementOptions } from './options.ts';
import { PlacementError } from './errors.ts';
import { PLACEMENT_MESSAGE_TYPES, PLACEMENT_PROTOCOL_VERSION, PlacementMessageSchema, type PlacementMessage } from './messages.ts';

// Plain maps, no shared record structures: every frame decodes on its own, across versions.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });

/** msgpackr bytes of a message; throws PLACEMENT_MESSAGE_TOO_LARGE above `maxMessageBytes`. */
export function encodePlacementMessage(msg: PlacementMessage, maxMessageBytes = defaultPlacementOptions.maxMessageBytes): Uint8Array {
  const bytes = packr.pack(msg);
  if (bytes.length > maxMessageBytes) {
    throw new PlacementError('PLACEMENT_MESSAGE_TOO_LARGE', `placement ${msg.t} message is ${bytes.length} bytes, over the ${maxMessageBytes}-byte limit`, {
      type: msg.t,
      bytes: bytes.length,
      maxMessageBytes,
    });
  }
  return bytes;
}

/**
 * Checks, in order: size, msgpack well-formedness, envelope version and type, then the
 * message's schema. Each failure is a PlacementError with its own code and the offending
 * field path, so the transport can count rejections by code and penalise the sender.
 */
export function decodePlacementMessage(bytes: Uint8Array, maxMessageBytes = defaultPlacementOptions.maxMessageBytes): PlacementMessage {
  if (bytes.length > maxMessageBytes) {
    throw new PlacementError('PLACEMENT_MESSAGE_TOO_LARGE', `placement message of ${bytes.length} bytes is over the ${maxMessageBytes}-byte limit`, {
      bytes: bytes.length,
      maxMessageBytes,
    });
  }
  if (bytes.length === 0) throw new PlacementError('PLACEMENT_MALFORMED_MESSAGE', 'empty placement message');
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new PlacementError('PLACEMENT_MALFORMED_MESSAGE', `placement message is not valid msgpack: ${(err as Error).message}`, { bytes: bytes.length }, { cause: err });
  }
  // Plain maps only: msgpackr turns arrays, extensions and the reserved 0xc1 byte into other objects.
  if (typeof raw !== 'object' || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) {
    const got = raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw === 'object' ? ((raw as object).constructor?.name ?? 'object') : typeof raw;
    throw new PlacementError('PLACEMENT_MALFORMED_MESSAGE', `placement message is not a map (got ${got})`, { got });
  }
  const env = raw as { v?: unknown; t?: unknown };
  if (env.v !== PLACEMENT_PROTOCOL_VERSION) {
    throw new PlacementError('PLACEMENT_UNSUPPORTED_VERSION', `placement message version ${describe(env.v)} is not supported (this node speaks ${PLACEMENT_PROTOCOL_VERSION})`, {
      version: describe(env.v),
      supported: PLACEMENT_PROTOCOL_VERSION,
    });
  }
  if (typeof env.t !== 'string' || !(PLACEMENT_MESSAGE_TYPES as readonly string[]).includes(env.t)) {
    throw new PlacementError('PLACEMENT_INVALID_MESSAGE', `unknown placement message type ${describe(env.t)}`, { type: describe(env.t) });
  }
  const parsed = PlacementMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new PlacementError('PLACEMENT_INVALID_MESSAGE', `invalid placement ${env.t} message: ${issues.join('; ')}`, { type: env.t, issues });
  }
  return parsed.data;
}

/**
 * A decoded field for an error message and its details, which are logged and sent as JSON: a
 * uint64 decodes as a BigInt, which JSON.stringify refuses (a fuzzed 0xcf in the type field
 * threw a TypeError instead of a PlacementError).
 */
function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'a map';
  return (JSON.stringify(value) ?? String(value)).slice(0, 64);
}
