// Entry point of the call page (templates/meetings/call.html): the pre-join screen, then the
// call. Wires the DOM to DevicePanel (devices), SignalingClient (the meeting WebSocket),
// CallController (mediasoup-client) and Grid (tiles). Exposes window.conference for tests and
// debugging: stats() returns inbound/outbound RTP bytes by kind.

import { CallController, CallState } from './lib/call-controller.js';
import { Collaboration } from './lib/collab.js';
import { connectionStatus, refusal } from './lib/connection-status.js';
import { setStrings, t } from './lib/i18n.js';
import { MediaProblem, canShareScreen, openScreen } from './lib/media.js';
import { DevicePanel, startLevelMeter } from './lib/prejoin.js';
import { qualityStats } from './lib/quality-stats.js';
import { RecordingState } from './lib/recording.js';
import { SignalingClient } from './lib/signaling.js';
import { Grid } from './lib/tiles.js';

const config = JSON.parse(document.getElementById('call-config').textContent);
setStrings(config.strings);

const $ = (selector) => document.querySelector(selector);
const root = $('#call');
const statusNode = $('#call-status');
const action = (name) => document.querySelector(`[data-action="${name}"]`);

const page = {
  tracks: { audio: null, video: null },
  stopMeter: () => {},
  signaling: null,
  controller: null,
  grid: null,
  local: { mic: { on: false, paused: false }, webcam: { on: false }, screen: { on: false } },
  transportStates: {},
  ended: false,
  restarting: false, // the server said it is stopping (4503): shown until we are back
};

// --- status ---------------------------------------------------------------------------

let lastAnnouncement = '';
/** Say `text` through the aria-live status region (screen readers) once. */
function announce(text) {
  if (!text || text === lastAnnouncement) return;
  lastAnnouncement = text;
  statusNode.textContent = text;
}

/** The visible connection badge, and the same words for screen readers. */
function showConnection(state, text) {
  const badge = $('#connection');
  badge.dataset.state = state;
  $('#connection-text').textContent = text;
  announce(text);
}

/** Show what the socket's and the call's states mean now (connection-status.js decides). */
function refreshConnection() {
  const status = connectionStatus({
    socket: page.signaling?.state,
    call: page.controller?.state,
    restarting: page.restarting,
    attempt: page.signaling?.attempt ?? 0,
    transportStates: page.transportStates,
  });
  if (status) showConnection(status.state, t(status.key, status.params));
}

function toast(text, tone = 'info') {
  const list = $('#toasts');
  if (!list) return announce(text);
  const item = document.createElement('li');
  item.className = `toast toast--${tone}`;
  item.textContent = text;
  list.append(item);
  setTimeout(() => item.remove(), 6000);
}

function setView(view) {
  root.dataset.view = view;
  $('#prejoin').hidden = view !== 'prejoin';
  $('#in-call').hidden = view !== 'call';
  $('#lobby-wait').hidden = view !== 'lobby';
  $('#after-call').hidden = view !== 'after';
  document.body.classList.toggle('in-call', view === 'call');
}

// --- pre-join -------------------------------------------------------------------------

const devices = new DevicePanel({
  mic: $('#mic-select'),
  camera: $('#camera-select'),
  speaker: $('#speaker-select'),
  speakerField: $('#speaker-field'),
  problems: $('#media-problems'),
});
const micToggle = $('#prejoin-mic');
const cameraToggle = $('#prejoin-camera');

function showPreview() {
  const video = $('#preview-video');
  const track = page.tracks.video;
  video.srcObject = track ? new MediaStream([track]) : null;
  root.querySelector('.preview').dataset.video = track ? 'on' : 'off';
  page.stopMeter();
  page.stopMeter = page.tracks.audio && micToggle.checked
    ? startLevelMeter(page.tracks.audio, $('#mic-meter'))
    : () => {};
}

async function openPreview(kind) {
  const old = page.tracks[kind];
  page.tracks[kind] = null;
  old?.stop();
  page.tracks[kind] = await devices.open(kind);
  showPreview();
}

async function prejoin() {
  setView('prejoin');
  const joinButton = action('join');
  // Both at once (one prompt); each alone if that fails, to know which one is missing.
  page.tracks = await devices.openBoth();
  await devices.refresh();
  if (!page.tracks.video && devices.problems.video === MediaProblem.NOT_FOUND) {
    cameraToggle.checked = false;
    cameraToggle.disabled = true;
  }
  if (!page.tracks.audio) {
    micToggle.checked = false;
    micToggle.disabled = devices.problems.audio === MediaProblem.NOT_FOUND;
  }
  showPreview();
  joinButton.disabled = false;
  joinButton.addEventListener('click', join);
  micToggle.addEventListener('change', async () => {
    if (micToggle.checked && !page.tracks.audio) await openPreview('audio');
    showPreview();
  });
  cameraToggle.addEventListener('change', async () => {
    if (cameraToggle.checked) await openPreview('video');
    else {
      page.tracks.video?.stop();
      page.tracks.video = null;
      showPreview();
    }
  });
  devices.onChange = onDeviceChange;
}

/** A picker changed: in the pre-join screen reopen the preview, in the call switch tracks. */
async function onDeviceChange(kind) {
  if (kind === 'audiooutput') {
    await page.grid?.setSinkId(devices.selects.audiooutput.value);
    return;
  }
  const mediaKind = kind === 'audioinput' ? 'audio' : 'video';
  if (!page.controller) {
    if (mediaKind === 'video' && !cameraToggle.checked) return;
    await openPreview(mediaKind);
    return;
  }
  const source = mediaKind === 'audio' ? 'mic' : 'webcam';
  if (!page.controller.local[source]) return; // not in use: the next start picks it up
  const track = await devices.open(mediaKind);
  if (track) await page.controller.replaceTrack(source, track);
  else toast(t(`media.${devices.problems[mediaKind]}.${mediaKind}`), 'warning');
}

// --- the call -------------------------------------------------------------------------

function wsUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${config.wsPath}`;
}

async function join() {
  const joinButton = action('join');
  joinButton.disabled = true;
  const nameInput = $('#display-name');
  const displayName = nameInput.value.trim().replace(/\s+/g, ' ').slice(0, 64) || config.displayName;
  page.stopMeter();
  page.stopMeter = () => {};
  $('#preview-video').srcObject = null;

  setView('call');
  $('#settings-slot').append($('#device-settings'));
  const grid = new Grid($('#grid'), {
    isHost: config.isHost,
    onLayers: (consumerId, spatial, temporal) =>
      page.controller?.setPreferredLayers(consumerId, spatial, temporal),
    onHostMute: (peerId) => page.controller?.hostMute(peerId).catch((e) => toast(e.message, 'error')),
    onHostRemove: (peerId) => page.controller?.hostRemove(peerId).catch((e) => toast(e.message, 'error')),
  });
  page.grid = grid;
  if (devices.selects.audiooutput.value) grid.setSinkId(devices.selects.audiooutput.value);

  const signaling = new SignalingClient(wsUrl());
  page.signaling = signaling;
  signaling.on('state', () => refreshConnection());
  signaling.on('restarting', () => {
    page.restarting = true;
    refreshConnection();
  });
  signaling.on('refused', ({ code }) => {
    if (page.ended) return;
    if (page.lobbyDenied) return finish(t('lobby.denied'), { canRejoin: false });
    const { key, canRejoin } = refusal(code);
    return finish(t(key) === key ? t('refused.other') : t(key), { canRejoin });
  });
  // A "lobby" meeting may keep us waiting for the host: the socket then says lobby:waiting
  // instead of meeting.state, and we may not send anything until we are let in.
  const entered = new Promise((resolve) => {
    signaling.on('meeting.state', resolve);
  });
  signaling.on('lobby:waiting', () => {
    setView('lobby');
    announce(t('lobby.waiting'));
  });
  signaling.on('lobby:admitted', () => {
    setView('call');
    announce(t('lobby.admitted'));
  });
  signaling.on('lobby:denied', () => {
    page.lobbyDenied = true;
  });
  refreshConnection();
  try {
    await signaling.connect();
  } catch {
    return; // "refused" has shown why
  }
  if (config.lobby) await entered;

  const controller = new CallController({ signaling, displayName, userId: config.userId });
  page.controller = controller;
  wireController(controller, grid, displayName);
  page.collab = new Collaboration({
    inCall: $('#in-call'), signaling, controller, config, toast, announce,
  });
  page.collab.load();
  wireRecording(signaling, controller);
  const audioTrack = page.tracks.audio;
  const videoTrack = cameraToggle.checked ? page.tracks.video : null;
  if (!videoTrack) page.tracks.video?.stop();
  page.tracks = { audio: null, video: null }; // the controller owns them now
  try {
    await controller.join({ audioTrack, videoTrack, micMuted: !micToggle.checked });
  } catch (error) {
    finish(t('error.generic', { message: error.message }), { canRejoin: true });
  }
}

function wireController(controller, grid, displayName) {
  controller.on('state', (state) => {
    if (state === CallState.JOINED) page.restarting = false;
    refreshConnection();
    if (state === CallState.JOINED) grid.resumePlayback();
  });
  controller.on('server-restarting', () => {
    page.restarting = true;
    refreshConnection();
  });
  controller.on('transport-state', ({ direction, state }) => {
    page.transportStates[direction] = state;
    refreshConnection();
  });
  controller.on('peer-joined', (peer) => {
    grid.addPeer(peer);
    updateCount();
    if (controller.state === CallState.JOINED) toast(t('peer.joined', { name: grid.nameOf(peer.peerId) }));
  });
  controller.on('peer-updated', (peer) => grid.updatePeer(peer));
  controller.on('peer-left', (peerId) => {
    const name = grid.nameOf(peerId);
    grid.removePeer(peerId);
    updateCount();
    if (controller.state === CallState.JOINED) toast(t('peer.left', { name }));
  });
  controller.on('track-added', (info) => {
    grid.addTrack(info);
    if (info.source === 'screen') toast(t('peer.sharing', { name: grid.nameOf(info.peerId) }));
  });
  controller.on('track-removed', (info) => grid.removeTrack(info));
  controller.on('track-paused', (info) => grid.setPaused(info));
  controller.on('active-speaker', (peerId) => grid.setActiveSpeaker(peerId === controller.peerId ? 'local' : peerId));
  controller.on('local-changed', (local) => {
    const wasPaused = page.local.mic.paused;
    page.local = local;
    grid.setLocal({
      displayName,
      camera: local.webcam.track,
      micMuted: !local.mic.on || local.mic.paused,
      screen: local.screen.track,
    });
    renderControls();
    if (local.mic.paused && !wasPaused && page.mutedByHost) toast(t('mutedByHost'), 'warning');
    page.mutedByHost = false;
  });
  controller.on('error', ({ message }) => toast(t('error.generic', { message }), 'error'));
  controller.on('meeting-ended', () => {
    page.ended = true;
    finish(t('meetingEnded'), { canRejoin: false });
  });
  controller.on('removed', () => {
    page.ended = true;
    finish(t('removed'), { canRejoin: false });
  });
  controller.on('muted-by-host', () => {
    page.mutedByHost = true;
  });
  updateCount();
}

// --- recording ------------------------------------------------------------------------

/** The indicator everyone sees and the host's Record button, from recording.js's state. */
function wireRecording(signaling, controller) {
  const recording = new RecordingState((type, data) => signaling.request(type, data));
  page.recording = recording;
  const indicator = $('#recording-indicator');
  const button = action('record');
  recording.on('change', ({ active, busy }) => {
    indicator.hidden = !active;
    if (!button) return;
    button.setAttribute('aria-pressed', String(active));
    button.dataset.state = active ? 'on' : 'off';
    button.querySelector('.control__label').textContent = t(active ? 'recording.stop' : 'recording.start');
    if (busy) button.setAttribute('aria-busy', 'true');
    else button.removeAttribute('aria-busy');
  });
  recording.on('started', (data) => {
    const name = data?.startedBy;
    toast(name ? t('recording.startedBy', { name }) : t('recording.started'));
  });
  recording.on('stopped', () => toast(t('recording.stopped')));
  controller.on('recording', (state) => recording.set(state));
  signaling.on('rtc:recordingStarted', (data) => recording.started(data));
  signaling.on('rtc:recordingStopped', (data) => recording.stopped(data));
  button?.addEventListener('click', async () => {
    try {
      await recording.toggle();
    } catch (error) {
      toast(t('recording.failed', { message: error.message }), 'error');
    }
  });
}

function updateCount() {
  const count = (page.controller?.peers.size ?? 0) + 1;
  $('#peer-count').textContent = t('peers.count', { count });
}

function renderControls() {
  const { mic, webcam, screen } = page.local;
  const muted = !mic.on || mic.paused;
  const muteButton = action('mute-mic');
  muteButton.setAttribute('aria-pressed', String(muted));
  muteButton.dataset.state = muted ? 'off' : 'on';
  const cameraButton = action('toggle-camera');
  cameraButton.setAttribute('aria-pressed', String(!webcam.on));
  cameraButton.dataset.state = webcam.on ? 'on' : 'off';
  const shareButton = action('share-screen');
  shareButton.setAttribute('aria-pressed', String(screen.on));
  shareButton.dataset.state = screen.on ? 'on' : 'off';
  shareButton.hidden = !canShareScreen();
}

async function toggleMic() {
  const controller = page.controller;
  if (!controller) return;
  if (!controller.local.mic) {
    const track = await devices.open('audio');
    if (!track) return toast(t(`media.${devices.problems.audio}.audio`), 'warning');
    await controller.setMicTrack(track);
    return;
  }
  await controller.setMicMuted(!controller.local.mic.paused);
}

async function toggleCamera() {
  const controller = page.controller;
  if (!controller) return;
  if (controller.local.webcam) {
    await controller.setCamera(null);
    return;
  }
  const track = await devices.open('video');
  if (!track) return toast(t(`media.${devices.problems.video}.video`), 'warning');
  await controller.setCamera(track);
}

async function toggleScreen() {
  const controller = page.controller;
  if (!controller) return;
  if (controller.local.screen) {
    await controller.setScreen(null);
    return;
  }
  if (!canShareScreen()) return toast(t('media.screenUnsupported'), 'warning');
  const { track, problem } = await openScreen();
  if (!track) {
    if (problem) toast(t('media.screenDenied'), 'warning');
    return;
  }
  await controller.setScreen(track);
}

async function leave() {
  const controller = page.controller;
  page.ended = true;
  if (controller) await controller.leave();
  else page.signaling?.close();
  finish(t('state.left'), { canRejoin: true });
}

/** Show the after-call screen with `reason`; stop every device. */
function finish(reason, { canRejoin }) {
  const dialog = $('#settings-dialog');
  if (dialog?.open) dialog.close();
  page.stopMeter();
  for (const track of Object.values(page.tracks)) track?.stop();
  page.tracks = { audio: null, video: null };
  if (page.controller && page.controller.state !== CallState.LEFT) page.controller.leave();
  page.signaling?.close();
  page.grid?.clear();
  $('#after-reason').textContent = reason;
  $('#rejoin').hidden = !canRejoin;
  setView('after');
  announce(reason);
  $('#after-title').focus?.();
}

function guard(handler) {
  return async (event) => {
    const button = event.currentTarget;
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    try {
      await handler();
    } catch (error) {
      console.error(error);
      toast(t('error.generic', { message: error.message }), 'error');
    } finally {
      button.removeAttribute('aria-busy');
      page.grid?.resumePlayback();
    }
  };
}

action('mute-mic').addEventListener('click', guard(toggleMic));
action('toggle-camera').addEventListener('click', guard(toggleCamera));
action('share-screen').addEventListener('click', guard(toggleScreen));
action('leave').addEventListener('click', guard(leave));
action('settings').addEventListener('click', () => {
  devices.refresh();
  $('#settings-dialog').showModal();
});
// Closing the tab or navigating away: rtc:leave, then the socket closes (1000) at once, so the
// server ends our peer now instead of keeping it for the reconnect grace.
window.addEventListener('pagehide', () => {
  if (page.controller) page.controller.leaveNow();
  else page.signaling?.close();
});

// Debug and test hooks.
window.conference = {
  config,
  get controller() {
    return page.controller;
  },
  get signaling() {
    return page.signaling;
  },
  /** Whether the page shows the call as being recorded. */
  recording() {
    return Boolean(page.recording?.active);
  },
  /** Inbound and outbound RTP bytes by kind; null before joining. */
  async stats() {
    return page.controller ? page.controller.stats() : null;
  },
  /** Chat texts, raised hands, whiteboard element ids and the lobby, as this page shows them. */
  collab() {
    return page.collab ? page.collab.snapshot() : null;
  },
  /** Received tracks' and sent layers' statistics (quality-stats.js); null before joining. */
  async quality() {
    const controller = page.controller;
    if (!controller) return null;
    return qualityStats(controller.session, controller.consumers, controller.local);
  },
  /** What the server said about our camera's layers (dynacast): producerId -> max layer. */
  producerLayers() {
    return page.controller ? page.controller.senderLayers.snapshot() : {};
  },
  /** Enlarge `peerId`'s tile (null: back to the grid), as its enlarge button does. */
  pin(peerId) {
    page.grid?.pin(peerId);
  },
  /** Preferred layers we asked for, by consumer id ('spatial/temporal'). */
  layers() {
    return page.controller ? Object.fromEntries(page.controller.receiving.preferredLayers) : {};
  },
  state() {
    return {
      view: root.dataset.view,
      call: page.controller?.state ?? null,
      socket: page.signaling?.state ?? null,
      peerId: page.controller?.peerId ?? null,
      sessions: page.controller?.sessions ?? 0,
      peers: page.controller ? [...page.controller.peers.keys()] : [],
      connection: $('#connection')?.dataset.state ?? null,
      connectionText: $('#connection-text')?.textContent ?? '',
    };
  },
};

prejoin().catch((error) => {
  console.error(error);
  devices.setProblem('audio', MediaProblem.OTHER);
  action('join').disabled = false;
});
