// The call's reconnection policy, as pure decisions the controller (call-controller.js) carries out.
//
// After rtc:joined the server gives us a peerId and a secret resumeToken. When the socket comes
// back after a loss, or the server sends rtc:reconnect (its worker died) or
// rtc:transportClosed, we send rtc:join again with `resume`. If the server still has our
// transports (a socket blip: media never stopped), we keep the MediaSession and only catch up
// on what we missed (peers, producers). Otherwise we open a new MediaSession with the router's
// (possibly new) capabilities and produce our tracks again; if the resume itself is refused
// (grace period over), we join afresh. Every attempt bumps a generation number, and work begun
// by an older generation stops when it notices (StaleGeneration).
//
// Server restart. rtc:reconnect with reason server_shutdown comes just before the server closes
// every socket with 4503: the peer is gone with it, so we do not rejoin on that socket; the
// signaling client reconnects with backoff and, once a server answers, we resume (refused:
// not_found) and join afresh. If the server does not close the socket within
// SHUTDOWN_CLOSE_WAIT_MS, we drop it ourselves.

import { SignalingError } from './signaling.js';

/** The sources we send, in the order they are (re)produced. */
export const SOURCES = Object.freeze(['mic', 'webcam', 'screen']);

/** How long a failed reconnection waits before it tries again. */
export const RETRY_MS = 2000;

/** After rtc:reconnect (server_shutdown), how long we wait for the server to close the socket
 * before we drop it ourselves. */
export const SHUTDOWN_CLOSE_WAIT_MS = 5000;

/** Thrown inside work begun by an attempt that a newer one replaced. */
export class StaleGeneration extends Error {
  constructor() {
    super('superseded by a newer connection');
    this.name = 'StaleGeneration';
  }
}

/** Errors not worth reporting: a newer attempt took over, or the socket went (it comes back). */
export const isQuiet = (error) =>
  error instanceof StaleGeneration || (error instanceof SignalingError && error.code === 'disconnected');

/**
 * What rtc:reconnect with `reason` asks of us: 'await-new-server' for server_shutdown (the peer
 * goes with the server; the socket's reconnection brings us back), else 'rejoin' at once.
 */
export function reconnectAction(reason) {
  return reason === 'server_shutdown' ? 'await-new-server' : 'rejoin';
}

/** The ids of a list of server objects ({id}) in an rtc:joined reply, as a Set. */
export function idsOf(list) {
  return new Set((list ?? []).map((item) => item.id));
}

/**
 * Whether the MediaSession survives this rtc:joined: the server resumed our peer and still has
 * every one of our transports. `transportIds` are those of our open session ([] if none).
 */
export function keepsMedia(joined, transportIds) {
  const server = idsOf(joined.transports);
  return Boolean(joined.resumed) && transportIds.length > 0 && transportIds.every((id) => server.has(id));
}

/**
 * The other peers' producers an rtc:joined reply lists, as {peerId, producerId, paused}
 * (ours are left out).
 */
export function producersOf(joined) {
  const offered = [];
  for (const peer of joined.peers ?? []) {
    if (peer.peerId === joined.peerId) continue;
    for (const producer of peer.producers ?? []) {
      offered.push({ peerId: peer.peerId, producerId: producer.id, paused: Boolean(producer.paused) });
    }
  }
  return offered;
}

/**
 * What to do once rtc:joined is in and the session is settled (kept, or opened anew):
 * - produce: the sources with a track and no producer the server still has;
 * - closeProducers: producers the server has for us that we no longer send (all of them
 *   when the session is new: our old producers went with it);
 * - dropConsumers: with a kept session, our consumers the server no longer has;
 * - consume: every producer of the other peers we know of, as {peerId, producerId, paused}.
 *
 * What to consume is `offered`, not only the reply's list: opening a new session takes a few
 * round trips, and a peer that produces meanwhile is announced by rtc:newProducer, which came
 * after the reply (RemoteMedia keeps both: the reply's list and what was announced since).
 *
 * @param {object} joined the rtc:joined reply.
 * @param {object} options
 * @param {boolean} options.keep see keepsMedia().
 * @param {object} options.local our entries by source ({track, producer} or null).
 * @param {Iterable<string>} options.consumerIds the consumers we hold.
 * @param {Array<object>} [options.offered] the others' producers ({peerId, producerId, paused});
 *   producersOf(joined) when not given.
 */
export function rejoinPlan(joined, { keep, local, consumerIds, offered = producersOf(joined) }) {
  const serverProducers = idsOf(joined.producers);
  const produce = [];
  for (const source of SOURCES) {
    const entry = local[source];
    if (!entry?.track) continue;
    const producer = entry.producer;
    const alive = keep && producer && !producer.closed && serverProducers.has(producer.id);
    if (!alive) produce.push(source);
  }
  const ours = new Set(SOURCES.map((source) => local[source]?.producer?.id).filter(Boolean));
  const closeProducers = [...serverProducers].filter((id) => !keep || !ours.has(id));
  const serverConsumers = idsOf(joined.consumers);
  const dropConsumers = keep ? [...consumerIds].filter((id) => !serverConsumers.has(id)) : [];
  const consume = offered.map(({ peerId, producerId, paused }) => ({ peerId, producerId, paused: Boolean(paused) }));
  return { produce, closeProducers, dropConsumers, consume };
}
