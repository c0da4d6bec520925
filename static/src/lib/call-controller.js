// The call: who is in it, what we send (mic, webcam, screen) and what we receive, over the
// rtc:* protocol (rtc/signaling/PROTOCOL.md). It owns a MediaSession (device, transports) and
// tells the page what changed through events; it never touches the DOM.
//
// The controller keeps the call's state and drives joining, resuming and leaving; its parts:
// - call-rejoin.js: the reconnection policy (resume or rebuild, what to close and consume
//   after rtc:joined, the server-restart wait, stale attempts);
// - call-local.js: what we send (tracks and producers by source, mute, device switches);
// - call-remote.js: what we receive (peers, consumers, preferred video layers).
//
// Leaving. leave() sends rtc:leave and waits for its reply (LEAVE_TIMEOUT_MS at most) before
// closing the socket with 1000; leaveNow() (page unload, nothing can be awaited) sends
// rtc:leave and closes at once. Either way the server ends our peer at once, without the
// reconnect grace a dropped socket gets.
//
// Events: state (CallState), peer-joined (peer), peer-updated (peer), peer-left (peerId),
// track-added / track-removed / track-paused ({peerId, consumerId, producerId, kind, source,
// track, paused, layers}), local-changed (our sources), active-speaker (peerId or null),
// transport-state ({direction, state}), recording (rtc:joined's recording state, after each
// join or resume), muted-by-host, meeting-ended, removed,
// server-restarting, error.

import { LocalSources } from './call-local.js';
import {
  RETRY_MS,
  SHUTDOWN_CLOSE_WAIT_MS,
  StaleGeneration,
  idsOf,
  isQuiet,
  keepsMedia,
  reconnectAction,
  rejoinPlan,
} from './call-rejoin.js';
import { RemoteMedia } from './call-remote.js';
import { SenderLayers } from './dynacast.js';
import { Emitter } from './emitter.js';
import { MediaSession, describeDevice } from './media-session.js';
import { SignalingError, SocketState } from './signaling.js';

export { SHUTDOWN_CLOSE_WAIT_MS };

export const CallState = Object.freeze({
  IDLE: 'idle',
  JOINING: 'joining',
  JOINED: 'joined',
  RECONNECTING: 'reconnecting',
  LEFT: 'left',
  FAILED: 'failed',
});

/** How long leave() waits for the reply to rtc:leave before it closes the socket anyway. */
export const LEAVE_TIMEOUT_MS = 3000;

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
    this.session = null;
    this.sessions = 0; // how many MediaSessions were opened (1 + rebuilds), for tests and logs
    this._generation = 0;
    this._shutdownTimer = null;
    /** @type {import('./call-local.js').CallContext} */
    const context = {
      session: () => this.session,
      generation: () => this._generation,
      joined: () => this.state === CallState.JOINED,
      request: (type, data) => this._request(type, data),
      emit: (name, ...args) => this.emit(name, ...args),
    };
    this.sending = new LocalSources(context);
    this.receiving = new RemoteMedia(context);
    /** Which of our camera's simulcast layers anybody receives (dynacast.js). */
    this.senderLayers = new SenderLayers();
    this._unsubscribe = [];
    this._subscribe();
  }

  /** Our media by source: {track, producer, paused}, or null (see LocalSources). */
  get local() {
    return this.sending.entries;
  }

  /** The other peers by peerId: {peerId, displayName}. */
  get peers() {
    return this.receiving.peers;
  }

  /** What we receive, by consumerId: {consumer, peerId, producerId, kind, source, producerPaused}. */
  get consumers() {
    return this.receiving.consumers;
  }

  // --- public API used by the page --------------------------------------------------------

  /** Join with the given tracks (either may be null: audio only, or only listening). */
  async join({ audioTrack = null, videoTrack = null, micMuted = false } = {}) {
    if (this.state !== CallState.IDLE) throw new Error(`cannot join in state ${this.state}`);
    this.sending.start({ audioTrack, videoTrack, micMuted });
    this._setState(CallState.JOINING);
    this.sending.emitChanged();
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
    await this.sending.setMicMuted(muted);
  }

  /** Start the microphone with `track` when the call began without one. */
  async setMicTrack(track) {
    await this.sending.set('mic', track);
  }

  /** Turn the camera on with `track`, or off (null): the producer closes, the camera is freed. */
  async setCamera(track) {
    await this.sending.set('webcam', track);
  }

  /** Start sharing `track` (from getDisplayMedia), or stop (null). */
  async setScreen(track) {
    await this.sending.set('screen', track);
  }

  /** Switch the mic or camera to another device's track, without renegotiation. */
  async replaceTrack(source, track) {
    await this.sending.replaceTrack(source, track);
  }

  /** Ask for a layer of a remote video; a repeat of the last request is not sent. */
  async setPreferredLayers(consumerId, spatialLayer, temporalLayer) {
    await this.receiving.setPreferredLayers(consumerId, spatialLayer, temporalLayer);
  }

  /** Host only: mute another peer's microphone (the server checks that we host). */
  async hostMute(peerId) {
    await Promise.all(
      this.receiving.micsOf(peerId).map(async (info) => {
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

  /** RTP bytes received and sent so far, by kind and by remote peer. */
  async stats() {
    if (!this.session) return { inbound: { audio: 0, video: 0 }, outbound: { audio: 0, video: 0 }, inboundByPeer: {} };
    return this.session.stats(this.receiving.trackPeers());
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
    // At once, before any later event is handled: what the server has now; rtc:newProducer
    // and rtc:producerClosed from here on update it, whatever our state (see RemoteMedia).
    this.receiving.setOffered(joined);
    this.peerId = joined.peerId;
    this.resumeToken = joined.resumeToken ?? null;
    this.role = joined.role ?? null;
    this.emit('recording', joined.recording ?? null);

    const open = this.session && !this.session.closed ? this.session.transportIds() : [];
    const keep = keepsMedia(joined, open);
    console.info(`call: ${reason}: ${keep ? 'resumed, media kept' : 'new media session'} (gen ${generation})`);

    if (!keep) {
      this._closeSession();
      // Transports the server kept but we cannot use any more (we have a new session).
      for (const id of idsOf(joined.transports)) {
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

    this.receiving.syncPeers(joined.peers ?? [], this.peerId);
    this._setState(CallState.JOINED);

    const plan = rejoinPlan(joined, {
      keep,
      local: this.local,
      consumerIds: this.consumers.keys(),
      offered: this.receiving.offeredList(),
    });
    const work = plan.produce.map((source) => this.sending.produce(source, this.local[source], generation));
    for (const id of plan.closeProducers) {
      this._request('rtc:closeProducer', { producerId: id }).catch(() => {});
    }
    for (const id of plan.dropConsumers) this.receiving.drop(id);
    for (const { peerId, producerId, paused } of plan.consume) {
      work.push(this.receiving.consume(peerId, producerId, paused, generation));
    }
    const results = await Promise.allSettled(work);
    for (const result of results) {
      if (result.status === 'rejected' && !isQuiet(result.reason)) this._reportError(result.reason);
    }
    this.sending.emitChanged();
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

  /** Close the media session locally; our tracks and the peers' tiles stay. */
  _closeSession() {
    this.receiving.dropAll();
    this.sending.forgetProducers();
    this.senderLayers.clear();
    this.session?.close();
    this.session = null;
    this.emit('active-speaker', null);
  }

  /** Local cleanup after leaving; the socket closes (1000) even if some of it fails. */
  _teardown() {
    clearTimeout(this._shutdownTimer);
    try {
      this._closeSession();
      this.sending.stopAll();
      this.receiving.removeAll();
    } finally {
      for (const off of this._unsubscribe) off();
      this._unsubscribe = [];
      this.signaling.close(1000, 'leave');
    }
    this.sending.emitChanged();
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
      if (reconnectAction(reason) === 'await-new-server') this._serverStopping();
      else this._reconnect(reason || 'server asked');
    });
    on('rtc:transportClosed', ({ transportId }) => {
      if (this.session?.transportIds().includes(transportId)) this._reconnect('transport closed');
    });
    on('rtc:peerJoined', ({ peerId, displayName }) => {
      if (peerId !== this.peerId) this.receiving.addPeer(peerId, displayName);
    });
    on('rtc:peerLeft', ({ peerId }) => this.receiving.removePeer(peerId));
    on('rtc:newProducer', ({ peerId, producerId, paused }) => {
      if (peerId === this.peerId) return;
      // Remembered in any state: while a (re)join opens its session, the plan consumes it.
      this.receiving.offer(peerId, producerId, paused);
      if (this.state !== CallState.JOINED) return;
      this.receiving.consume(peerId, producerId, Boolean(paused), this._generation).catch((error) => {
        if (!isQuiet(error)) this._reportError(error);
      });
    });
    on('rtc:producerClosed', ({ producerId }) => this.receiving.dropProducer(producerId));
    on('rtc:consumerClosed', ({ consumerId, producerId }) => {
      if (producerId) this.receiving.withdraw(producerId);
      this.receiving.drop(consumerId);
    });
    on('rtc:producerPaused', (data) => this._onProducerPaused(data, true));
    on('rtc:producerResumed', (data) => this._onProducerPaused(data, false));
    on('rtc:activeSpeaker', ({ peerId }) => this.emit('active-speaker', peerId ?? null));
    on('rtc:producerLayers', (data) => this.senderLayers.update(data, this._producers()));
    // A producer of ours that a wish arrived for before it existed here.
    this._unsubscribe.push(this.on('local-changed', () => this.senderLayers.sync(this._producers())));
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

  /** One of ours (the host muted it) or one of a peer's producers was paused or resumed. */
  _onProducerPaused({ peerId, producerId }, paused) {
    if (peerId === this.peerId) this.sending.hostPaused(producerId, paused);
    else this.receiving.setProducerPaused(producerId, paused);
  }

  // --- helpers ----------------------------------------------------------------------------

  /** Our open producers. */
  _producers() {
    return Object.values(this.local).map((entry) => entry?.producer).filter((p) => p && !p.closed);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
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
