import { ShoalError } from '../core/errors.ts';

/**
 * Every failure the network adapter reports. Callers branch on the code, never on the
 * message; the API maps the `NET_` prefix to 502 in one place.
 */
export const NetErrorCode = {
  /** The request did not complete within `timeoutMs`. */
  timeout: 'NET_TIMEOUT',
  /** The caller's AbortSignal fired before the request completed. */
  aborted: 'NET_ABORTED',
  /** No connection could be made to the peer (no address, refused, pnet or noise failure). */
  unreachable: 'NET_UNREACHABLE',
  /** A frame exceeds the configured maximum; it was not sent (local) or not read (remote). */
  frameTooLarge: 'NET_FRAME_TOO_LARGE',
  /** The peer does not serve the requested protocol. */
  noHandler: 'NET_NO_HANDLER',
  /** The peer's handler failed; `details.remoteCode` carries its error code. */
  remoteError: 'NET_REMOTE_ERROR',
  /** The stream ended or broke before a full response arrived. */
  streamFailed: 'NET_STREAM_FAILED',
  /** The transport is not started (or already stopped). */
  notStarted: 'NET_NOT_STARTED',
  /** start() on a transport that was already started or stopped (transports are single-use). */
  alreadyStarted: 'NET_ALREADY_STARTED',
  /** libp2p could not listen on the configured addresses (port in use, bad address). */
  listenFailed: 'NET_LISTEN_FAILED',
  /** A peer id string does not parse. */
  invalidPeerId: 'NET_INVALID_PEER_ID',
  /** A multiaddr string does not parse or is unusable. */
  invalidAddr: 'NET_INVALID_ADDR',
  /** Options are inconsistent (for example Dlo > D). */
  invalidOptions: 'NET_INVALID_OPTIONS',
  /** A second handler for a protocol that already has one. */
  duplicateHandler: 'NET_DUPLICATE_HANDLER',
  /** The swarm (pnet) key file is missing or malformed; `details.reason` says how. */
  swarmKeyInvalid: 'NET_SWARM_KEY_INVALID',
  /** Refused to overwrite an existing swarm key file. */
  swarmKeyExists: 'NET_SWARM_KEY_EXISTS',
  /** Reading or writing a key file (identity or swarm key) failed at the file system. */
  keyFileIo: 'NET_KEY_FILE_IO',
  /** The identity key file does not decode to an Ed25519 private key. */
  identityCorrupt: 'NET_IDENTITY_CORRUPT',
  /** The identity key file is readable by group or others. */
  identityPermissions: 'NET_IDENTITY_PERMISSIONS',
  /** A direct message could not be decoded by the receiving runner. */
  directDecodeFailed: 'NET_DIRECT_DECODE_FAILED',
} as const;

export type NetErrorCode = (typeof NetErrorCode)[keyof typeof NetErrorCode];

export class NetError extends ShoalError<NetErrorCode> {
  constructor(code: NetErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = 'NetError';
  }
}

export function isNetError(err: unknown, code?: NetErrorCode): err is NetError {
  return err instanceof ShoalError && err.code.startsWith('NET_') && (code === undefined || err.code === code);
}
