import type { Encoded } from '../../src/core/index.ts';
import type { PlacementMessage } from '../../src/placement/index.ts';

/**
 * Payload wrappers the simulated hosts exchange. In the agent, gossip and placement travel
 * on different stream protocols and each side decodes its own bytes; in the simulator one
 * decoded object is handed over, so the receiving host tells them apart by class.
 */

/** A placement message with the bytes `encodePlacementMessage` made of it (their length is what the network carries). */
export class PlacementPayload implements Encoded<PlacementMessage> {
  readonly msg: PlacementMessage;
  readonly bytes: Uint8Array;
  constructor(msg: PlacementMessage, bytes: Uint8Array) {
    this.msg = msg;
    this.bytes = bytes;
  }
}

/**
 * Topic bytes the gossip codec refused to decode (decoded once at publish, as every receiver
 * would decode them identically). Receivers answer with the verdict the agent's runner
 * gives for that error, without running any handler: the first hop rejects it.
 */
export class UndecodablePayload implements Encoded<null> {
  readonly msg = null;
  readonly bytes: Uint8Array;
  readonly error: unknown;
  constructor(bytes: Uint8Array, error: unknown) {
    this.bytes = bytes;
    this.error = error;
  }
}
