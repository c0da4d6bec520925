// What we receive: the other peers, the consumers of their producers, and the video layer we
// asked the server for on each. Part of the call controller (call-controller.js), which gives it a
// CallContext (see call-local.js) and forwards the server's events; it reports through the
// controller's events: peer-joined, peer-updated, peer-left, track-added, track-removed and
// track-paused ({peerId, consumerId, producerId, kind, source, track, paused, layers}).
//
// Offered producers. What we should receive is known before we can receive it: the rtc:joined
// reply lists the others' producers, and rtc:newProducer announces each new one, also while
// our media session is still being opened (a rejoin, a worker restart). Both go into `offered`
// whatever the call's state, so an announcement that comes before we can consume is not lost:
// the controller consumes everything offered once the session is ready.

import { StaleGeneration, isQuiet, producersOf } from './call-rejoin.js';
import { consumerLayers } from './media-session.js';

export class RemoteMedia {
  /** @param {import('./call-local.js').CallContext} context */
  constructor(context) {
    this.context = context;
    /** peerId -> {peerId, displayName} of everyone in the call but us. */
    this.peers = new Map();
    /** consumerId -> {consumer, peerId, producerId, kind, source, producerPaused}. */
    this.consumers = new Map();
    /** consumerId -> 'spatial/temporal': the last layers we asked for. */
    this.preferredLayers = new Map();
    /** producerId -> {peerId, producerId, paused}: the others' producers the server has, as
     * far as we know (the last rtc:joined's list, plus announcements since, minus closes). */
    this.offered = new Map();
    /** session -> the producerIds with an rtc:consume in flight on it. */
    this.consuming = new WeakMap();
  }

  // --- offered producers ---------------------------------------------------------------------

  /** rtc:joined: the server's list replaces what we knew (announcements before it are in it). */
  setOffered(joined) {
    this.offered = new Map(producersOf(joined).map((entry) => [entry.producerId, entry]));
  }

  /** rtc:newProducer: `peerId` sends `producerId` now. */
  offer(peerId, producerId, paused) {
    this.offered.set(producerId, { peerId, producerId, paused: Boolean(paused) });
  }

  /** The producer closed: not offered any more. */
  withdraw(producerId) {
    this.offered.delete(producerId);
  }

  /** The offered producers, as a list for rejoinPlan(). */
  offeredList() {
    return [...this.offered.values()];
  }

  // --- peers --------------------------------------------------------------------------------

  /** Peers now in the call (rtc:joined): add the new ones, drop those who left while we were
   * away; `selfPeerId` is us. */
  syncPeers(list, selfPeerId) {
    const present = new Set();
    for (const peer of list) {
      if (peer.peerId === selfPeerId) continue;
      present.add(peer.peerId);
      this.addPeer(peer.peerId, peer.displayName);
    }
    for (const peerId of [...this.peers.keys()]) if (!present.has(peerId)) this.removePeer(peerId);
  }

  /** A peer joined (or was seen again): added once; a new display name is an update. */
  addPeer(peerId, displayName) {
    const existing = this.peers.get(peerId);
    if (existing) {
      if (displayName && existing.displayName !== displayName) {
        existing.displayName = displayName;
        this.context.emit('peer-updated', existing);
      }
      return existing;
    }
    const peer = { peerId, displayName: displayName || '' };
    this.peers.set(peerId, peer);
    this.context.emit('peer-joined', peer);
    return peer;
  }

  /** A peer left: its tracks go first, then the peer. */
  removePeer(peerId) {
    for (const [id, entry] of this.offered) if (entry.peerId === peerId) this.offered.delete(id);
    if (!this.peers.has(peerId)) return;
    for (const [id, info] of this.consumers) if (info.peerId === peerId) this.drop(id);
    this.peers.delete(peerId);
    this.context.emit('peer-left', peerId);
  }

  /** Everyone leaves (we left). */
  removeAll() {
    for (const peerId of [...this.peers.keys()]) this.removePeer(peerId);
  }

  // --- consumers ----------------------------------------------------------------------------

  /**
   * Receive `producerId` of `peerId` on the current session (once per producer), then ask the
   * server to resume it; throws StaleGeneration if the attempt or the session changed meanwhile.
   */
  async consume(peerId, producerId, producerPaused, generation) {
    const { context } = this;
    const session = context.session();
    if (!session?.recvTransport) return;
    for (const info of this.consumers.values()) if (info.producerId === producerId) return;
    // The join's list and an announcement may both name it: one rtc:consume per session.
    if (!this.consuming.has(session)) this.consuming.set(session, new Set());
    const inFlight = this.consuming.get(session);
    if (inFlight.has(producerId)) return;
    inFlight.add(producerId);
    let consumed;
    try {
      consumed = await session.consume(peerId, producerId);
    } finally {
      inFlight.delete(producerId);
    }
    const { consumer, reply, source } = consumed;
    if (generation !== context.generation() || session !== context.session()) {
      consumer.close();
      throw new StaleGeneration();
    }
    const info = {
      consumer,
      peerId,
      producerId,
      kind: reply.kind,
      source,
      producerPaused: Boolean(reply.producerPaused ?? producerPaused),
    };
    this.consumers.set(consumer.id, info);
    consumer.on('transportclose', () => this.drop(consumer.id));
    consumer.on('trackended', () => this.drop(consumer.id));
    this.addPeer(peerId);
    context.emit('track-added', trackInfo(info));
    await context.request('rtc:resumeConsumer', { consumerId: consumer.id });
  }

  /** Close and forget one consumer (its tile goes); unknown ids are ignored. */
  drop(consumerId) {
    const info = this.consumers.get(consumerId);
    if (!info) return;
    this.consumers.delete(consumerId);
    this.preferredLayers.delete(consumerId);
    if (!info.consumer.closed) info.consumer.close();
    this.context.emit('track-removed', trackInfo(info));
  }

  /** Drop every consumer of `producerId` (rtc:producerClosed); it is not offered any more. */
  dropProducer(producerId) {
    this.withdraw(producerId);
    for (const [id, info] of this.consumers) if (info.producerId === producerId) this.drop(id);
  }

  /** Drop every consumer (the session closes); the peers stay. */
  dropAll() {
    for (const id of [...this.consumers.keys()]) this.drop(id);
  }

  /** A peer's producer was paused or resumed: its tracks show it. */
  setProducerPaused(producerId, paused) {
    const offered = this.offered.get(producerId);
    if (offered) offered.paused = paused;
    for (const info of this.consumers.values()) {
      if (info.producerId === producerId) {
        info.producerPaused = paused;
        this.context.emit('track-paused', trackInfo(info));
      }
    }
  }

  /** The microphone consumers of `peerId`. */
  micsOf(peerId) {
    return [...this.consumers.values()].filter((c) => c.peerId === peerId && c.kind === 'audio');
  }

  /** track id -> peerId of every consumer, to sort inbound stats by peer. */
  trackPeers() {
    const peers = new Map();
    for (const info of this.consumers.values()) peers.set(info.consumer.track?.id, info.peerId);
    return peers;
  }

  // --- layers -------------------------------------------------------------------------------

  /** Ask for a layer of a remote video; a repeat of the last request is not sent. */
  async setPreferredLayers(consumerId, spatialLayer, temporalLayer) {
    const key = `${spatialLayer}/${temporalLayer}`;
    if (this.preferredLayers.get(consumerId) === key || !this.consumers.has(consumerId)) return;
    this.preferredLayers.set(consumerId, key);
    try {
      await this.context.request('rtc:setPreferredLayers', { consumerId, spatialLayer, temporalLayer });
    } catch (error) {
      this.preferredLayers.delete(consumerId);
      if (!isQuiet(error)) console.warn('setPreferredLayers failed', error);
    }
  }
}

/** What the page gets about a consumer's track. */
function trackInfo(info) {
  return {
    peerId: info.peerId,
    consumerId: info.consumer.id,
    producerId: info.producerId,
    kind: info.kind,
    source: info.source,
    track: info.consumer.track,
    paused: info.producerPaused,
    layers: info.kind === 'video' ? consumerLayers(info.consumer) : null,
  };
}
