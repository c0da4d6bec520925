// The call: one mediasoup-client Device, a send and a receive transport, our producers (mic,
// webcam, screen) and a consumer for every producer of every other peer. It speaks the rtc:*
// protocol of issue 4 over a SignalingClient and tells the page what changed through events;
// it never touches the DOM.
//
// Reconnection: when the socket comes back after a loss, or the server sends rtc:reconnect
// (its worker died and the meeting got a new router), the call is rebuilt from scratch on the
// same local tracks: a new Device, rtc:join, new transports, our producers again, consumers for
// what the others send. Each rebuild bumps a generation number; work started by an older
// generation notices and stops.
//
// Events: state (CallState), peer-joined (peer), peer-updated (peer), peer-left (peerId),
// track-added / track-removed / track-paused ({peerId, consumerId, producerId, kind, source,
// track, paused}), local-changed (summary of our producers), active-speaker (peerId or null),
// muted-by-host ({producerId}),
// transport-state ({direction, state}), meeting-ended (data), removed (data), error ({code, message}).

import { Device, parseScalabilityMode } from 'mediasoup-client';

import { Emitter } from './emitter.js';
import { SignalingError, SocketState } from './signaling.js';

export const CallState = Object.freeze({
  IDLE: 'idle',
  JOINING: 'joining',
  JOINED: 'joined',
  RECONNECTING: 'reconnecting',
  LEFT: 'left',
  FAILED: 'failed',
});

// Simulcast for the camera: three spatial layers, each with three temporal layers, so a
// receiver's small tile gets the small layer (see rtc:setPreferredLayers).
const WEBCAM_SIMULCAST = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000, scalabilityMode: 'L1T3' },
];
const WEBCAM_SVC = [{ scalabilityMode: 'L3T3_KEY', maxBitrate: 1_500_000 }];
const SCREEN_ENCODINGS = [{ maxBitrate: 1_500_000, scalabilityMode: 'L1T3' }];

/** Encodings for the camera: SVC when the router's first video codec is VP9, else simulcast. */
export function webcamEncodings(device) {
  const codec = device.rtpCapabilities.codecs?.find((c) => c.kind === 'video');
  const mime = codec?.mimeType?.toLowerCase();
  if (mime === 'video/vp9') return WEBCAM_SVC;
  if (mime === 'video/vp8' || mime === 'video/h264') return WEBCAM_SIMULCAST;
  return undefined;
}

/** Spatial and temporal layer counts of a consumer (1 and 1 without simulcast/SVC). */
export function consumerLayers(consumer) {
  const mode = consumer.rtpParameters?.encodings?.[0]?.scalabilityMode;
  const { spatialLayers, temporalLayers } = parseScalabilityMode(mode);
  return { spatialLayers, temporalLayers };
}

export class CallController extends Emitter {
  /**
   * @param {object} options
   * @param {import('./signaling.js').SignalingClient} options.signaling connected client.
   * @param {string} options.displayName shown to the others.
   * @param {number|string} [options.userId] our user id, to notice we were removed.
   */
  constructor({ signaling, displayName, userId }) {
    super();
    this.signaling = signaling;
    this.displayName = displayName;
    this.userId = userId;
    this.state = CallState.IDLE;
    this.peerId = null;
    this.peers = new Map();
    this.device = null;
    this.sendTransport = null;
    this.recvTransport = null;
    // Our media by source: {track, producer, paused}. Tracks outlive rebuilds.
    this.local = { mic: null, webcam: null, screen: null };
    this.consumers = new Map();
    this._generation = 0;
    this._preferredLayers = new Map();
    this._unsubscribe = [];
    this._subscribe();
  }

  // --- public API used by the page --------------------------------------------------------

  /** Join with the given tracks (either may be null: audio only, or listening only). */
  async join({ audioTrack = null, videoTrack = null, micMuted = false } = {}) {
    if (this.state !== CallState.IDLE) throw new Error(`cannot join in state ${this.state}`);
    if (audioTrack) this.local.mic = { track: audioTrack, producer: null, paused: micMuted };
    if (videoTrack) this.local.webcam = { track: videoTrack, producer: null, paused: false };
    this._setState(CallState.JOINING);
    try {
      await this._build(++this._generation);
    } catch (error) {
      if (error instanceof StaleGeneration) return;
      // A lost socket is recovered by the reconnect path; anything else is fatal for the join.
      if (error instanceof SignalingError && error.code === 'disconnected') return;
      this._setState(CallState.FAILED);
      throw error;
    }
  }

  /** Mute or unmute the microphone (pauses the producer on both ends). */
  async setMicMuted(muted) {
    const mic = this.local.mic;
    if (!mic) return;
    mic.paused = muted;
    const producer = mic.producer;
    if (producer && !producer.closed) {
      if (muted) producer.pause();
      else producer.resume();
      const type = muted ? 'rtc:pauseProducer' : 'rtc:resumeProducer';
      await this._request(type, { producerId: producer.id });
    }
    this._emitLocal();
  }

  /** Start the microphone with `track` when the call began without one (unmuted). */
  async setMicTrack(track) {
    await this._setSource('mic', track);
  }

  /** Host only: mute another peer's microphone (the server checks that we host). */
  async hostMute(peerId) {
    const mics = [...this.consumers.values()].filter((c) => c.peerId === peerId && c.kind === 'audio');
    await Promise.all(mics.map((c) => this._request('rtc:hostMuteProducer', { producerId: c.producerId })));
  }

  /** Host only: remove another peer from the call. */
  async hostRemove(peerId) {
    await this._request('rtc:hostRemovePeer', { peerId });
  }

  /** Turn the camera on with `track`, or off (null): the producer is closed, the camera freed. */
  async setCamera(track) {
    await this._setSource('webcam', track);
  }

  /** Start sharing `track` (from getDisplayMedia), or stop (null). */
  async setScreen(track) {
    await this._setSource('screen', track);
  }

  /** Switch the mic or camera to another device's track without renegotiation. */
  async replaceTrack(source, track) {
    const entry = this.local[source];
    if (!entry) {
      track.stop();
      return;
    }
    const old = entry.track;
    entry.track = track;
    if (entry.producer && !entry.producer.closed) await entry.producer.replaceTrack({ track });
    if (source === 'mic') track.enabled = !entry.paused;
    if (old && old !== track) old.stop();
    this._emitLocal();
  }

  /** Ask for a layer of a remote video; repeated identical requests are not sent. */
  async setPreferredLayers(consumerId, spatialLayer, temporalLayer) {
    const key = `${spatialLayer}/${temporalLayer}`;
    if (this._preferredLayers.get(consumerId) === key) return;
    this._preferredLayers.set(consumerId, key);
    try {
      await this._request('rtc:setPreferredLayers', { consumerId, spatialLayer, temporalLayer });
    } catch (error) {
      this._preferredLayers.delete(consumerId);
      console.warn('setPreferredLayers failed', error);
    }
  }

  /** Leave the call: tell the server, close transports, stop our devices. */
  async leave() {
    if (this.state === CallState.LEFT) return;
    this._generation += 1;
    this._setState(CallState.LEFT);
    if (this.peerId && this.signaling.state === SocketState.OPEN) {
      try {
        await this.signaling.request('rtc:leave', {}, { timeoutMs: 3000 });
      } catch (error) {
        console.warn('rtc:leave failed', error);
      }
    }
    this._teardown();
    for (const source of Object.keys(this.local)) {
      this.local[source]?.track?.stop();
      this.local[source] = null;
    }
    for (const peerId of [...this.peers.keys()]) this._removePeer(peerId);
    for (const off of this._unsubscribe) off();
    this._unsubscribe = [];
    this.signaling.close();
    this._emitLocal();
  }

  /** Bytes received and sent so far, by kind, from the transports' RTCPeerConnection stats. */
  async stats() {
    const result = {
      inbound: { audio: 0, video: 0 },
      outbound: { audio: 0, video: 0 },
      inboundByPeer: {},
    };
    const byConsumerTrack = new Map();
    for (const [consumerId, info] of this.consumers) byConsumerTrack.set(info.consumer.track?.id, info);
    if (this.recvTransport && !this.recvTransport.closed) {
      const report = await this.recvTransport.getStats();
      const trackIds = new Map();
      report.forEach((s) => {
        if (s.type === 'track' || s.type === 'media-source') trackIds.set(s.id, s.trackIdentifier);
      });
      report.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        const kind = s.kind ?? s.mediaType;
        result.inbound[kind] = (result.inbound[kind] ?? 0) + (s.bytesReceived ?? 0);
        const info = byConsumerTrack.get(s.trackIdentifier ?? trackIds.get(s.trackId));
        if (info) {
          const peer = (result.inboundByPeer[info.peerId] ??= { audio: 0, video: 0 });
          peer[kind] = (peer[kind] ?? 0) + (s.bytesReceived ?? 0);
        }
      });
    }
    if (this.sendTransport && !this.sendTransport.closed) {
      const report = await this.sendTransport.getStats();
      report.forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        const kind = s.kind ?? s.mediaType;
        result.outbound[kind] = (result.outbound[kind] ?? 0) + (s.bytesSent ?? 0);
      });
    }
    return result;
  }

  // --- building and rebuilding the call ---------------------------------------------------

  /** Join, create transports, produce our tracks, consume everyone else's. */
  async _build(generation) {
    const joined = await this._request('rtc:join', { displayName: this.displayName });
    this._check(generation);
    this.peerId = joined.peerId;
    const device = new Device();
    await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
    this._check(generation);
    this.device = device;

    const [send, recv] = await Promise.all([
      device.canProduce('audio') || device.canProduce('video')
        ? this._createTransport('send', generation)
        : null,
      this._createTransport('recv', generation),
    ]);
    this._check(generation);
    this.sendTransport = send;
    this.recvTransport = recv;

    // Peers present now; tiles of peers that left while we were away go.
    const present = new Set();
    for (const peer of joined.peers ?? []) {
      if (peer.peerId === this.peerId) continue;
      present.add(peer.peerId);
      this._addPeer(peer.peerId, peer.displayName);
    }
    for (const peerId of [...this.peers.keys()]) if (!present.has(peerId)) this._removePeer(peerId);

    this._setState(CallState.JOINED);

    const work = [];
    for (const source of ['mic', 'webcam', 'screen']) {
      if (this.local[source]?.track) work.push(this._produce(source, generation));
    }
    for (const peer of joined.peers ?? []) {
      if (peer.peerId === this.peerId) continue;
      for (const producer of peer.producers ?? []) {
        work.push(this._consume({ peerId: peer.peerId, producerId: producer.id,
          kind: producer.kind, appData: producer.appData, paused: producer.paused }, generation));
      }
    }
    const results = await Promise.allSettled(work);
    for (const result of results) {
      if (result.status === 'rejected' && !(result.reason instanceof StaleGeneration)) {
        this._reportError(result.reason);
      }
    }
    this._emitLocal();
  }

  async _createTransport(direction, generation) {
    const info = await this._request('rtc:createTransport', { direction });
    this._check(generation);
    const options = {
      id: info.id,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates,
      dtlsParameters: info.dtlsParameters,
      sctpParameters: info.sctpParameters ?? undefined,
    };
    const transport =
      direction === 'send'
        ? this.device.createSendTransport(options)
        : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this._request('rtc:connectTransport', { transportId: transport.id, dtlsParameters })
        .then(() => callback())
        .catch(errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        // mediasoup-client 3.2x adds `msid`, which the 3.16 worker's RtpParameters lack.
        const { msid, ...parameters } = rtpParameters;
        this._request('rtc:produce', { transportId: transport.id, kind, rtpParameters: parameters, appData })
          .then(({ id }) => callback({ id }))
          .catch(errback);
      });
    }
    transport.on('connectionstatechange', (state) => {
      this.emit('transport-state', { direction, state });
      if (state === 'failed' && generation === this._generation) {
        this._restartIce(transport, generation);
      }
    });
    return transport;
  }

  /** ICE failed: ask the server for new ICE parameters; if that fails too, rebuild the call. */
  async _restartIce(transport, generation) {
    try {
      const { iceParameters } = await this._request('rtc:restartIce', { transportId: transport.id });
      this._check(generation);
      await transport.restartIce({ iceParameters });
    } catch (error) {
      if (error instanceof StaleGeneration) return;
      console.warn('ICE restart failed, rejoining', error);
      this._rebuild('ice-failed');
    }
  }

  async _produce(source, generation) {
    const entry = this.local[source];
    if (!entry?.track || !this.sendTransport) return;
    const kind = entry.track.kind;
    if (!this.device.canProduce(kind)) return;
    const options = {
      track: entry.track,
      stopTracks: false,
      appData: { source },
    };
    if (source === 'webcam') {
      options.encodings = webcamEncodings(this.device);
      options.codecOptions = { videoGoogleStartBitrate: 1000 };
    } else if (source === 'screen') {
      options.encodings = SCREEN_ENCODINGS;
      if ('contentHint' in entry.track) entry.track.contentHint = 'detail';
    } else if (source === 'mic') {
      options.codecOptions = { opusStereo: false, opusDtx: true, opusFec: true };
    }
    let producer;
    try {
      producer = await this.sendTransport.produce(options);
    } catch (error) {
      if (!options.encodings) throw error;
      // Some browsers refuse a layered encoding: send a single stream instead.
      console.warn(`produce ${source} with layers failed, retrying without`, error);
      this._check(generation);
      producer = await this.sendTransport.produce({ ...options, encodings: undefined });
    }
    if (generation !== this._generation || this.local[source] !== entry) {
      producer.close();
      throw new StaleGeneration();
    }
    entry.producer = producer;
    producer.on('trackended', () => {
      // The device went away, or the user stopped sharing from the browser's own bar.
      if (this.local[source] === entry) this._setSource(source, null).catch(console.warn);
    });
    if (source === 'mic' && entry.paused) {
      producer.pause();
      await this._request('rtc:pauseProducer', { producerId: producer.id });
    }
    this._emitLocal();
  }

  async _setSource(source, track) {
    const entry = this.local[source];
    if (entry) {
      this.local[source] = null;
      if (entry.producer && !entry.producer.closed) {
        const producerId = entry.producer.id;
        entry.producer.close();
        if (this.state === CallState.JOINED) {
          await this._request('rtc:closeProducer', { producerId }).catch((e) => console.warn(e));
        }
      }
      if (entry.track !== track) entry.track?.stop();
    }
    if (track) {
      this.local[source] = { track, producer: null, paused: false };
      if (this.state === CallState.JOINED) await this._produce(source, this._generation);
    }
    this._emitLocal();
  }

  async _consume({ peerId, producerId, kind, appData, paused }, generation) {
    if (!this.recvTransport || !this.device) return;
    for (const info of this.consumers.values()) if (info.producerId === producerId) return;
    const reply = await this._request('rtc:consume', {
      transportId: this.recvTransport.id,
      producerId,
      rtpCapabilities: this.device.rtpCapabilities,
    });
    this._check(generation);
    const consumer = await this.recvTransport.consume({
      id: reply.id,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
      streamId: `${peerId}-${reply.appData?.source ?? appData?.source ?? kind}`,
      appData: { peerId, ...(reply.appData ?? appData ?? {}) },
    });
    if (generation !== this._generation) {
      consumer.close();
      throw new StaleGeneration();
    }
    const source = consumer.appData.source ?? (reply.kind === 'audio' ? 'mic' : 'webcam');
    const info = { consumer, peerId, producerId, kind: reply.kind, source,
      producerPaused: Boolean(reply.producerPaused ?? paused) };
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

  /** Start over on the same local tracks (socket came back, or the server asked). */
  async _rebuild(reason) {
    if (this.state === CallState.LEFT || this.state === CallState.IDLE) return;
    const generation = ++this._generation;
    console.info(`call: rebuilding (${reason}), generation ${generation}`);
    this._setState(CallState.RECONNECTING);
    this._teardown();
    if (this.signaling.state !== SocketState.OPEN) return; // the socket's "open" brings us back
    try {
      await this._build(generation);
    } catch (error) {
      if (error instanceof StaleGeneration) return;
      if (error instanceof SignalingError && error.code === 'disconnected') return;
      this._reportError(error);
      // Try again a little later unless something newer already started.
      setTimeout(() => {
        if (generation === this._generation) this._rebuild('retry');
      }, 2000);
    }
  }

  /** Close transports (and so producers and consumers) locally; keep tracks and peers. */
  _teardown() {
    for (const id of [...this.consumers.keys()]) this._dropConsumer(id);
    for (const entry of Object.values(this.local)) if (entry) entry.producer = null;
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sendTransport = null;
    this.recvTransport = null;
    this.device = null;
    this.emit('active-speaker', null);
  }

  // --- server events ----------------------------------------------------------------------

  _subscribe() {
    const on = (type, handler) => this._unsubscribe.push(this.signaling.on(type, handler));
    on('open', ({ reconnected }) => {
      if (reconnected && this.state !== CallState.IDLE && this.state !== CallState.LEFT) {
        this._rebuild('socket reconnected');
      }
    });
    on('lost', () => {
      if (this.state === CallState.JOINED || this.state === CallState.JOINING) {
        this._generation += 1;
        this._setState(CallState.RECONNECTING);
      }
    });
    on('rtc:reconnect', ({ reason }) => this._rebuild(reason || 'server asked'));
    on('rtc:peerJoined', ({ peerId, displayName }) => {
      if (peerId !== this.peerId) this._addPeer(peerId, displayName);
    });
    on('rtc:peerLeft', ({ peerId }) => this._removePeer(peerId));
    on('rtc:newProducer', (data) => {
      if (data.peerId === this.peerId || this.state !== CallState.JOINED) return;
      this._consume(data, this._generation).catch((error) => {
        if (!(error instanceof StaleGeneration)) this._reportError(error);
      });
    });
    on('rtc:producerClosed', ({ producerId }) => {
      for (const [id, info] of this.consumers) if (info.producerId === producerId) this._dropConsumer(id);
    });
    on('rtc:consumerClosed', ({ consumerId }) => this._dropConsumer(consumerId));
    on('rtc:producerPaused', (data) => this._onProducerPaused(data, true));
    on('rtc:producerResumed', (data) => this._onProducerPaused(data, false));
    on('rtc:activeSpeaker', ({ peerId }) => this.emit('active-speaker', peerId ?? null));
    on('meeting.ended', (data) => {
      this.emit('meeting-ended', data);
      this.leave();
    });
    on('meeting.participantRemoved', (data) => {
      if (this.userId != null && String(data.userId) === String(this.userId)) {
        this.emit('removed', data);
        this.leave();
      }
    });
  }

  _onProducerPaused({ peerId, producerId }, paused) {
    if (peerId === this.peerId) {
      // The host muted (or unmuted) one of ours.
      for (const entry of Object.values(this.local)) {
        if (entry?.producer?.id === producerId) {
          if (entry === this.local.mic) {
            if (paused && !entry.paused) this.emit('muted-by-host', { producerId });
            entry.paused = paused;
          }
          if (paused) entry.producer.pause();
          else entry.producer.resume();
          this._emitLocal();
        }
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
    for (const [source, entry] of Object.entries(this.local)) {
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

/** Thrown inside work begun by a build that a newer one replaced. */
class StaleGeneration extends Error {
  constructor() {
    super('superseded by a newer connection');
    this.name = 'StaleGeneration';
  }
}
