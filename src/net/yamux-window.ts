import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';

/**
 * @chainsafe/libp2p-yamux 8 answers every data frame with a window update, so each small
 * message (a gossipsub RPC, a request, its answer) costs the receiver a second frame: one
 * more noise encryption, pnet pass and socket write. rust-yamux and go-yamux send the update
 * once half the window is used, which is what this does for established streams; the
 * library's own path still runs for everything else (SYN/ACK flags, paused streams) and
 * for the update itself, so its window auto-tuning is unchanged.
 *
 * Installed once, from `createLibp2pNode`. A library upgrade that drops the method fails here;
 * one that renames the fields makes the patch a no-op, which the adapter test that counts
 * socket writes per request catches.
 */

interface YamuxStreamWindow {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
  sendWindowUpdate(): void;
}

let installed = false;

export function installLazyYamuxWindowUpdates(): void {
  if (installed) return;
  const proto = YamuxStream.prototype as unknown as YamuxStreamWindow;
  const original = proto.sendWindowUpdate;
  if (typeof original !== 'function' || typeof StreamState.Established !== 'number') {
    throw new Error('@chainsafe/libp2p-yamux changed: YamuxStream.sendWindowUpdate or StreamState.Established is gone');
  }
  proto.sendWindowUpdate = function (this: YamuxStreamWindow): void {
    if (this.state === StreamState.Established && this.recvWindowCapacity >= this.recvWindow / 2) return;
    original.call(this);
  };
  installed = true;
}
