// The call: who is in it, what we send (mic, webcam, screen) and what we receive, over the
// rtc:* protocol of issue 4. It owns a MediaSession (device, transports) and tells the page
// what changed through events; it never touches the DOM.
//
// Reconnection. After rtc:joined the server gives us a peerId and a secret resumeToken. When
// the socket comes back after a loss, or the server sends rtc:reconnect (its worker died) or
// rtc:transportClosed, we send rtc:join again with `resume`. If the server still has our
// transports (a socket blip: media never stopped), we keep the MediaSession and only catch
// up on what we missed (peers, producers). Otherwise we open a new MediaSession with the
// router's (possibly new) capabilities and produce our tracks again; if the resume itself is
// refused (grace period over), we join afresh. Every attempt bumps a generation number, and
// work begun by an older generation stops when it notices.
//
// Server restart. rtc:reconnect with reason server_shutdown comes just before the server
// closes every socket with 4503: the peer is gone with it, so we do not rejoin on that socket;
// the signaling client reconnects with backoff and, once a server answers, we resume (refused:
// not_found) and join afresh.
//
// Leaving. leave() sends rtc:leave and waits for its reply (LEAVE_TIMEOUT_MS at most) before
// closing the socket with 1000; leaveNow() (page unload, nothing can be awaited) sends
// rtc:leave and closes at once. Either way the server ends our peer at once, without the
// reconnect grace a dropped socket gets.
//
// Events: state (CallState), peer-joined (peer), peer-updated (peer), peer-left (peerId),
// track-added / track-removed / track-paused ({peerId, consumerId, producerId, kind, source,
// track, paused, layers}), local-changed (our sources), active-speaker (peerId or null),
// transport-state ({direction, state}), muted-by-host, meeting-ended, removed,
// server-restarting, error.

import { Emitter } from './emitter.js';
import { MediaSession, consumerLayers, describeDevice } from './media-session.js';
import { SignalingError, SocketState } from './signaling.js';

export const CallState = Object.freeze({
  IDLE: 'idle',
  JOINING: 'joining',
  JOINED: 'joined',
  RECONNECTING: 'reconnecting',
  LEFT: 'left',
  FAILED: 'failed',
});

const SOURCES = ['mic', 'webcam', 'screen'];
const RETRY_MS = 2000;
/** How long leave() waits for the reply to rtc:leave before it closes the socket anyway. */
export const LEAVE_TIMEOUT_MS = 3000;
/** After rtc:reconnect (server_shutdown), how long we wait for the server to close the socket
 * before we drop it ourselves. */
export const SHUTDOWN_CLOSE_WAIT_MS = 5000;

/** Thrown inside work begun by an attempt that a newer one replaced. */
class StaleGeneration extends Error {
  constructor() {
    super('superseded by a newer connection');
    this.name = 'StaleGeneration';
  }
}

const isQuiet = (error) =>
  error instanceof StaleGeneration || (error instanceof SignalingError && error.code === 'disconnected');

export class CallController extends Emitter {
  /**
   * @param {object} options
   * @param {import('./signaling.js').SignalingClient} options.signaling a connected client.
   * @param {string} options.displayName shown to the others.
   * @param {number|string} [options.userId] our user id, to notice we were removed.
   * @param {number} [options.leaveTimeoutMs] how long leave() waits for rtc:leave's reply.
   * @param {number} [options.shutdownCloseWaitMs] see SHUTDOWN_CLOSE_WAIT_MS.
   */
  constructor({
    signaling,
    displayName,
    userId,
    leaveTimeoutMs = LEAVE_TIMEOUT_MS,
    shutdownCloseWaitMs = SHUTDOWN_CLOSE_WAIT_MS,
  }) {
    super();
    this.signaling = signaling;
    this.leaveTimeoutMs = leaveTimeoutMs;
    this.shutdownCloseWaitMs = shutdownCloseWaitMs;
    this.displayName = displayName;
    this.userId = userId;
    this.state = CallState.IDLE;
    this.peerId = null;
    this.resumeToken = null;
    this.role = null;
    this.peers = new Map();
    this.session = null;
    this.sessions = 0; // how many MediaSessions were opened (1 + rebuilds), for tests and logs
    // Our media by source: {track, producer, paused}. Tracks outlive sessions.
    this.local = { mic: null, webcam: null, screen: null };
    this.consumers = new Map(); // consumerId -> {consumer, peerId, producerId, kind, source, producerPaused}
    this._generation = 0;
    this._shutdownTimer = null;
    this._preferredLayers = new Map();
    this._unsubscribe = [];
    this._subscribe();
  }

  // --- public API used by the page --------------------------------------------------------

  /** Join with the given tracks (either may be null: audio only, or only listening). */
  async join({ audioTrack = null, videoTrack = null, micMuted = false } = {}) {
    if (this.state !== CallState.IDLE) throw new Error(`cannot join in state ${this.state}`);
    if (audioTrack) this.local.mic = { track: audioTrack, producer: null, paused: micMuted };
    if (videoTrack) this.local.webcam = { track: videoTrack, producer: null, paused: false };
    this._setState(CallState.JOINING);
    this._emitLocal();
    try {
      await this._connect(++this._generation, 'join');
    } catch (error) {
      if (isQuiet(error)) return; // the reconnect path takes over
      this._setState(CallState.FAILED);
      throw error;
    }
  }

  /** Mute or unmute the microphone (the producer pauses on both ends). */
  async setMicMuted(muted) {
    const mic = this.local.mic;
    if (!mic) return;
    mic.paused = muted;
    const producer = mic.producer;
    this._emitLocal();
    if (producer && !producer.closed) {
      if (muted) producer.pause();
      else producer.resume();
      await this._request(muted ? 'rtc:pauseProducer' : 'rtc:resumeProducer', { producerId: producer.id });
    }
  }

  /** Start the microphone with `track` when the call began without one. */
  async setMicTrack(track) {
    await this._setSource('mic', track);
  }

  /** Turn the camera on with `track`, or off (null): the producer closes, the camera is freed. */
  async setCamera(track) {
    await this._setSource('webcam', track);
  }

  /** Start sharing `track` (from getDisplayMedia), or stop (null). */
  async setScreen(track) {
    await this._setSource('screen', track);
  }

  /** Switch the mic or camera to another device's track, without renegotiation. */
  async replaceTrack(source, track) {
    const entry = this.local[source];
    if (!entry) {
      track.stop();
      return;
    }
    const old = entry.track;
    entry.track = track;
    if (entry.producer && !entry.producer.closed) await entry.producer.replaceTrack({ track });
    if (old && old !== track) old.stop();
    this._emitLocal();
  }

  /** Ask for a layer of a remote video; a repeat of the last request is not sent. */
  async setPreferredLayers(consumerId, spatialLayer, temporalLayer) {
    const key = `${spatialLayer}/${temporalLayer}`;
    if (this._preferredLayers.get(consumerId) === key || !this.consumers.has(consumerId)) return;
    this._preferredLayers.set(consumerId, key);
    try {
      await this._request('rtc:setPreferredLayers', { consumerId, spatialLayer, temporalLayer });
    } catch (error) {
      this._preferredLayers.delete(consumerId);
      if (!isQuiet(error)) console.warn('setPreferredLayers failed', error);
    }
  }

  /** Host only: mute another peer's microphone (the server checks that we host). */
  async hostMute(peerId) {
    const mics = [...this.consumers.values()].filter((c) => c.peerId === peerId && c.kind === 'audio');
    await Promise.all(
      mics.map(async (info) => {
        await this._request('rtc:hostMuteProducer', { producerId: info.producerId });
        // The server tells everyone but us (the sender): show it here ourselves.
        this._onProducerPaused({ peerId, producerId: info.producerId }, true);
      }),
    );
  }

  /** Host only: remove another peer from the call. */
  async hostRemove(peerId) {
    await this._request('rtc:hostRemovePeer', { peerId });
  }

  /**
   * Leave: tell the server and wait for its reply (at most leaveTimeoutMs), then close
   * transports, stop our devices and close the socket (1000).
   */
  async leave({ notifyServer = true } = {}) {
    if (this.state === CallState.LEFT) return;
    this._generation += 1;
    this._setState(CallState.LEFT);
    if (notifyServer && this.peerId && this.signaling.state === SocketState.OPEN) {
      try {
        await this.signaling.request('rtc:leave', {}, { timeoutMs: this.leaveTimeoutMs });
      } catch (error) {
        // The socket closes below all the same: the server takes a close after rtc:leave
        // as a leave.
        console.warn('rtc:leave failed', error);
      }
    }
    this._teardown();
  }

  /**
   * Leave at once, without awaiting anything (page unload: nothing can be awaited there).
   * rtc:leave is sent before the socket closes, so the server handles it first.
   */
  leaveNow() {
    if (this.state === CallState.LEFT) return;
    this._generation += 1;
    this._setState(CallState.LEFT);
    if (this.peerId) this.signaling.send('rtc:leave');
    this._teardown();
  }

  /** Local cleanup after leaving; the socket closes (1000) even if some of it fails. */
  _teardown() {
    clearTimeout(this._shutdownTimer);
    try {
      this._closeSession();
      for (const source of SOURCES) {
        this.local[source]?.track?.stop();
        this.local[source] = null;
      }
      for (const peerId of [...this.peers.keys()]) this._removePeer(peerId);
    } finally {
      for (const off of this._unsubscribe) off();
      this._unsubscribe = [];
      this.signaling.close(1000, 'leave');
    }
    this._emitLocal();
  }

  /** RTP bytes received and sent so far, by kind and by remote peer. */
  async stats() {
    if (!this.session) return { inbound: { audio: 0, video: 0 }, outbound: { audio: 0, video: 0 }, inboundByPeer: {} };
    const trackPeers = new Map();
    for (const info of this.consumers.values()) trackPeers.set(info.consumer.track?.id, info.peerId);
    return this.session.stats(trackPeers);
  }

  // --- joining, resuming, rebuilding ------------------------------------------------------

  /** rtc:join (resuming when we can), then keep or rebuild the media session. */
  async _connect(generation, reason) {
    const base = { displayName: this.displayName, device: describeDevice() };
    let joined;
    if (this.peerId && this.resumeToken) {
      try {
        joined = await this._request('rtc:join', {
          ...base,
          resume: { peerId: this.peerId, token: this.resumeToken },
        });
      } catch (error) {
        if (isQuiet(error) || !(error instanceof SignalingError)) throw error;
        console.info(`call: resume refused (${error.code}), joining afresh`);
        this._check(generation);
        this._closeSession();
        joined = await this._request('rtc:join', base);
      }
    } else {
      joined = await this._request('rtc:join', base);
    }
    this._check(generation);
    this.peerId = joined.peerId;
    this.resumeToken = joined.resumeToken ?? null;
    this.role = joined.role ?? null;

    const serverTransports = new Set((joined.transports ?? []).map((t) => t.id));
    const keep =
      joined.resumed &&
      this.session &&
      !this.session.closed &&
      this.session.transportIds().length > 0 &&
      this.session.transportIds().every((id) => serverTransports.has(id));
    console.info(`call: ${reason}: ${keep ? 'resumed, media kept' : 'new media session'} (gen ${generation})`);

    if (!keep) {
      this._closeSession();
      // Transports the server kept but we cannot use any more (we have a new session).
      for (const id of serverTransports) {
        this._request('rtc:closeTransport', { transportId: id }).catch(() => {});
      }
      const session = new MediaSession({
        request: (type, data) => this._request(type, data),
        iceServers: joined.iceServers ?? [],
        onTransportState: (direction, state) => this._onTransportState(session, direction, state),
      });
      this.session = session;
      this.sessions += 1;
      await session.open(joined.routerRtpCapabilities);
      this._check(generation);
    }

    this._syncPeers(joined.peers ?? []);
    this._setState(CallState.JOINED);

    const work = [];
    const serverProducers = new Set((joined.producers ?? []).map((p) => p.id));
    for (const source of SOURCES) {
      const entry = this.local[source];
      if (!entry?.track) continue;
      const alive = keep && entry.producer && !entry.producer.closed && serverProducers.has(entry.producer.id);
      if (!alive) work.push(this._produce(source, entry, generation));
    }
    // Producers the server still has for us that we no longer send (closed while offline).
    const ours = new Set(SOURCES.map((s) => this.local[s]?.producer?.id).filter(Boolean));
    for (const id of serverProducers) {
      if (!keep || !ours.has(id)) this._request('rtc:closeProducer', { producerId: id }).catch(() => {});
    }
    if (keep) {
      const serverConsumers = new Set((joined.consumers ?? []).map((c) => c.id));
      for (const id of [...this.consumers.keys()]) if (!serverConsumers.has(id)) this._dropConsumer(id);
    }
    for (const peer of joined.peers ?? []) {
      if (peer.peerId === this.peerId) continue;
      for (const producer of peer.producers ?? []) {
        work.push(this._consume(peer.peerId, producer.id, Boolean(producer.paused), generation));
      }
    }
    const results = await Promise.allSettled(work);
    for (const result of results) {
      if (result.status === 'rejected' && !isQuiet(result.reason)) this._reportError(result.reason);
    }
    this._emitLocal();
  }

  /** Start over after a problem, on the same local tracks; retried until it works. */
  async _reconnect(reason) {
    if (this.state === CallState.LEFT || this.state === CallState.IDLE) return;
    const generation = ++this._generation;
    this._setState(CallState.RECONNECTING);
    if (this.signaling.state !== SocketState.OPEN) return; // the socket's "open" brings us back
    try {
      await this._connect(generation, reason);
    } catch (error) {
      if (error instanceof StaleGeneration) return;
      if (error instanceof SignalingError && error.code === 'disconnected') return;
      this._reportError(error);
      setTimeout(() => {
        if (generation === this._generation) this._reconnect('retry');
      }, RETRY_MS);
    }
  }

  /** The server is stopping (rtc:reconnect server_shutdown, then 4503): wait for the new one. */
  _serverStopping() {
    if (this.state === CallState.LEFT || this.state === CallState.IDLE) return;
    this._generation += 1; // work of the current attempt stops: the peer is gone
    this._setState(CallState.RECONNECTING);
    this.emit('server-restarting');
    clearTimeout(this._shutdownTimer);
    const generation = this._generation;
    // The server closes the socket right after; if it does not, drop it ourselves.
    this._shutdownTimer = setTimeout(() => {
      if (generation === this._generation && this.signaling.state === SocketState.OPEN) {
        this.signaling.reconnect('server_shutdown');
      }
    }, this.shutdownCloseWaitMs);
  }

  _onTransportState(session, direction, state) {
    if (session !== this.session) return;
    this.emit('transport-state', { direction, state });
    if (state !== 'failed' || this.state !== CallState.JOINED) return;
    const transport = direction === 'send' ? session.sendTransport : session.recvTransport;
    session.restartIce(transport).catch((error) => {
      if (isQuiet(error)) return;
      console.warn('ICE restart failed, reconnecting', error);
      this._reconnect('ice-failed');
    });
  }

  async _produce(source, entry, generation) {
    if (!this.session || this.local[source] !== entry) return;
    const session = this.session;
    const producer = await session.produce(source, entry.track, { paused: source === 'mic' && entry.paused });
    if (!producer) return;
    if (generation !== this._generation || this.local[source] !== entry || session !== this.session) {
      producer.close();
      if (this.state === CallState.JOINED && session === this.session) {
        this._request('rtc:closeProducer', { producerId: producer.id }).catch(() => {});
      }
      throw new StaleGeneration();
    }
    entry.producer = producer;
    producer.on('trackended', () => {
      // The device went away, or the user stopped sharing from the browser's own bar.
      if (this.local[source] === entry) this._setSource(source, null).catch((e) => console.warn(e));
    });
    this._emitLocal();
  }

  async _setSource(source, track) {
    const entry = this.local[source];
    if (entry) {
      this.local[source] = null;
      const producer = entry.producer;
      if (entry.track !== track) entry.track?.stop();
      this._emitLocal();
      if (producer && !producer.closed) {
        producer.close();
        if (this.state === CallState.JOINED) {
          await this._request('rtc:closeProducer', { producerId: producer.id }).catch((e) => {
            if (!isQuiet(e)) console.warn(e);
          });
        }
      }
    }
    if (track) {
      const created = { track, producer: null, paused: false };
      this.local[source] = created;
      this._emitLocal();
      if (this.state === CallState.JOINED) await this._produce(source, created, this._generation);
    }
  }

  async _consume(peerId, producerId, producerPaused, generation) {
    const session = this.session;
    if (!session?.recvTransport) return;
    for (const info of this.consumers.values()) if (info.producerId === producerId) return;
    const { consumer, reply, source } = await session.consume(peerId, producerId);
    if (generation !== this._generation || session !== this.session) {
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
    consumer.on('transportclose', () => this._dropConsumer(consumer.id));
    consumer.on('trackended', () => this._dropConsumer(consumer.id));
    this._addPeer(peerId);
    this.emit('track-added', this._trackInfo(info));
    await this._request('rtc:resumeConsumer', { consumerId: consumer.id });
  }

  _trackInfo(info) {
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

  _dropConsumer(consumerId) {
    const info = this.consumers.get(consumerId);
    if (!info) return;
    this.consumers.delete(consumerId);
    this._preferredLayers.delete(consumerId);
    if (!info.consumer.closed) info.consumer.close();
    this.emit('track-removed', this._trackInfo(info));
  }

  /** Close the media session locally; our tracks and the peers' tiles stay. */
  _closeSession() {
    for (const id of [...this.consumers.keys()]) this._dropConsumer(id);
    for (const entry of Object.values(this.local)) if (entry) entry.producer = null;
    this.session?.close();
    this.session = null;
    this.emit('active-speaker', null);
  }

  /** Peers now in the call: add the new ones, drop those who left while we were away. */
  _syncPeers(list) {
    const present = new Set();
    for (const peer of list) {
      if (peer.peerId === this.peerId) continue;
      present.add(peer.peerId);
      this._addPeer(peer.peerId, peer.displayName);
    }
    for (const peerId of [...this.peers.keys()]) if (!present.has(peerId)) this._removePeer(peerId);
  }

  // --- server events ----------------------------------------------------------------------

  _subscribe() {
    const on = (type, handler) => this._unsubscribe.push(this.signaling.on(type, handler));
    on('open', ({ reconnected }) => {
      if (reconnected && this.state !== CallState.IDLE && this.state !== CallState.LEFT) {
        this._reconnect('socket reconnected');
      }
    });
    on('lost', () => {
      if (this.state === CallState.JOINED || this.state === CallState.JOINING) {
        this._generation += 1;
        this._setState(CallState.RECONNECTING);
      }
    });
    on('rtc:reconnect', ({ reason }) => {
      if (reason === 'server_shutdown') this._serverStopping();
      else this._reconnect(reason || 'server asked');
    });
    on('rtc:transportClosed', ({ transportId }) => {
      if (this.session?.transportIds().includes(transportId)) this._reconnect('transport closed');
    });
    on('rtc:peerJoined', ({ peerId, displayName }) => {
      if (peerId !== this.peerId) this._addPeer(peerId, displayName);
    });
    on('rtc:peerLeft', ({ peerId }) => this._removePeer(peerId));
    on('rtc:newProducer', ({ peerId, producerId, paused }) => {
      if (peerId === this.peerId || this.state !== CallState.JOINED) return;
      this._consume(peerId, producerId, Boolean(paused), this._generation).catch((error) => {
        if (!isQuiet(error)) this._reportError(error);
      });
    });
    on('rtc:producerClosed', ({ producerId }) => {
      for (const [id, info] of this.consumers) if (info.producerId === producerId) this._dropConsumer(id);
    });
    on('rtc:consumerClosed', ({ consumerId }) => this._dropConsumer(consumerId));
    on('rtc:producerPaused', (data) => this._onProducerPaused(data, true));
    on('rtc:producerResumed', (data) => this._onProducerPaused(data, false));
    on('rtc:activeSpeaker', ({ peerId }) => this.emit('active-speaker', peerId ?? null));
    on('rtc:removed', (data) => {
      this.emit('removed', data);
      this.leave({ notifyServer: false });
    });
    on('meeting.ended', (data) => {
      this.emit('meeting-ended', data);
      this.leave({ notifyServer: false });
    });
    on('meeting.participantRemoved', (data) => {
      if (this.userId != null && String(data.userId) === String(this.userId)) {
        this.emit('removed', data);
        this.leave({ notifyServer: false });
      }
    });
  }

  _onProducerPaused({ peerId, producerId }, paused) {
    if (peerId === this.peerId) {
      // The host muted one of ours.
      const mic = this.local.mic;
      if (mic?.producer?.id === producerId) {
        if (paused && !mic.paused) this.emit('muted-by-host', { producerId });
        mic.paused = paused;
        if (paused) mic.producer.pause();
        else mic.producer.resume();
        this._emitLocal();
      }
      return;
    }
    for (const info of this.consumers.values()) {
      if (info.producerId === producerId) {
        info.producerPaused = paused;
        this.emit('track-paused', this._trackInfo(info));
      }
    }
  }

  // --- helpers ----------------------------------------------------------------------------

  _addPeer(peerId, displayName) {
    const existing = this.peers.get(peerId);
    if (existing) {
      if (displayName && existing.displayName !== displayName) {
        existing.displayName = displayName;
        this.emit('peer-updated', existing);
      }
      return existing;
    }
    const peer = { peerId, displayName: displayName || '' };
    this.peers.set(peerId, peer);
    this.emit('peer-joined', peer);
    return peer;
  }

  _removePeer(peerId) {
    if (!this.peers.has(peerId)) return;
    for (const [id, info] of this.consumers) if (info.peerId === peerId) this._dropConsumer(id);
    this.peers.delete(peerId);
    this.emit('peer-left', peerId);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  _emitLocal() {
    const summary = {};
    for (const source of SOURCES) {
      const entry = this.local[source];
      summary[source] = entry
        ? { on: true, paused: entry.paused, producing: Boolean(entry.producer && !entry.producer.closed), track: entry.track }
        : { on: false, paused: false, producing: false, track: null };
    }
    this.emit('local-changed', summary);
  }

  _reportError(error) {
    console.warn('call error', error);
    this.emit('error', { code: error?.code ?? 'error', message: String(error?.message ?? error) });
  }

  _check(generation) {
    if (generation !== this._generation) throw new StaleGeneration();
  }

  _request(type, data) {
    return this.signaling.request(type, data);
  }
}
