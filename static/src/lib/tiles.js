// The participant grid: one tile per person (ours first), one more per shared screen, each
// with a name, a microphone state and, while they speak, a highlight. Remote media elements
// carry data-remote-peer="<peerId>" (and data-source), so tests and automation find them.
//
// Layout: tiles keep a 16:9 shape and the column count that makes them largest in the space
// there is; while someone shares a screen, the screen takes the stage and people a strip.
// Layer choice: a ResizeObserver watches each remote camera tile and asks for the simulcast
// layer that fits its size in device pixels (small tile, small layer: less bandwidth, less CPU).
// Enlarging: a remote camera tile's enlarge button (or a double click) puts it on the stage
// like a shared screen, the others go to the strip; its bigger size asks for a higher layer
// (and, through dynacast, makes its sender encode that layer again).

import { t } from './i18n.js';

const LAYER_HEIGHTS = [240, 480]; // up to 240 px tall: layer 0; up to 480: layer 1; above: 2
const LAYER_DEBOUNCE_MS = 300;

/** The spatial layer for a tile `height` CSS pixels tall, capped by what the sender has. */
export function layerForHeight(height, dpr, spatialLayers) {
  const pixels = height * (dpr || 1);
  let layer = LAYER_HEIGHTS.findIndex((limit) => pixels <= limit);
  if (layer === -1) layer = LAYER_HEIGHTS.length;
  return Math.max(0, Math.min(layer, spatialLayers - 1));
}

/** Columns giving the largest 16:9 tiles for `count` tiles in a `width` x `height` box. */
export function bestColumns(count, width, height, gap = 8) {
  let best = { cols: 1, tileWidth: 0 };
  for (let cols = 1; cols <= Math.max(1, count); cols += 1) {
    const rows = Math.ceil(count / cols);
    const w = (width - gap * (cols - 1)) / cols;
    const h = (height - gap * (rows - 1)) / rows;
    const tileWidth = Math.min(w, (h * 16) / 9);
    if (tileWidth > best.tileWidth) best = { cols, tileWidth };
  }
  return best;
}

function initials(name) {
  const trimmed = (name || '?').trim();
  return (Array.from(trimmed)[0] || '?').toUpperCase();
}

function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key === 'className') node.className = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) node.append(child);
  return node;
}

export class Grid {
  /**
   * @param {HTMLElement} root the grid container.
   * @param {object} hooks
   * @param {(consumerId: string, spatial: number, temporal: number) => void} hooks.onLayers
   * @param {boolean} [hooks.isHost] show host actions on remote tiles.
   * @param {(peerId: string) => void} [hooks.onHostMute]
   * @param {(peerId: string) => void} [hooks.onHostRemove]
   */
  constructor(root, { onLayers, isHost = false, onHostMute, onHostRemove } = {}) {
    this.root = root;
    this.onLayers = onLayers;
    this.isHost = isHost;
    this.onHostMute = onHostMute;
    this.onHostRemove = onHostRemove;
    this.tiles = new Map(); // key: `${peerId}|webcam` or `${peerId}|screen`; 'local|...' for ours
    this.names = new Map();
    this.videoLayers = new Map(); // consumerId -> {video, layers, timer}
    this.pinned = null; // key of the enlarged tile, or null
    this.sinkId = '';
    this._resize = new ResizeObserver((entries) => this._onResize(entries));
    this._gridResize = new ResizeObserver(() => this.layout());
    this._gridResize.observe(root);
  }

  // --- people -------------------------------------------------------------------------

  /** Our own tile: name, camera self-view (mirrored), mic state. */
  setLocal({ displayName, camera, micMuted, screen }) {
    const tile = this._tile('local', 'webcam', t('tile.you', { name: displayName }), true);
    this._setVideo(tile, camera ?? null, { mirror: true });
    tile.dataset.muted = micMuted ? 'true' : 'false';
    if (screen) {
      const screenTile = this._tile('local', 'screen', t('tile.yourScreen'), true);
      this._setVideo(screenTile, screen, {});
    } else {
      this._removeTile('local|screen');
    }
    this.layout();
  }

  addPeer({ peerId, displayName }) {
    this.names.set(peerId, displayName || t('peer.anonymous'));
    this._tile(peerId, 'webcam', this.names.get(peerId), false);
    this.layout();
  }

  updatePeer({ peerId, displayName }) {
    this.names.set(peerId, displayName || t('peer.anonymous'));
    for (const source of ['webcam', 'screen']) {
      const tile = this.tiles.get(`${peerId}|${source}`);
      if (!tile) continue;
      const label = source === 'screen' ? t('tile.screenOf', { name: this.names.get(peerId) }) : this.names.get(peerId);
      tile.querySelector('.tile__name').textContent = label;
      tile.setAttribute('aria-label', label);
    }
  }

  /** Enlarge `peerId`'s camera tile onto the stage (null: back to the grid); a toggle. */
  pin(peerId) {
    const key = peerId == null ? null : `${peerId}|webcam`;
    this.pinned = key && key !== this.pinned && this.tiles.has(key) ? key : null;
    for (const [tileKey, tile] of this.tiles) {
      const button = tile.querySelector('[data-tile-action="pin"]');
      if (!button) continue;
      const pinned = tileKey === this.pinned;
      button.setAttribute('aria-pressed', String(pinned));
      button.textContent = pinned ? t('tile.shrink') : t('tile.enlarge', { name: this.nameOf(tile.dataset.peerId) });
    }
    this.layout();
  }

  removePeer(peerId) {
    this._removeTile(`${peerId}|webcam`);
    this._removeTile(`${peerId}|screen`);
    this.names.delete(peerId);
    this.layout();
  }

  nameOf(peerId) {
    return this.names.get(peerId) ?? t('peer.anonymous');
  }

  // --- remote media -------------------------------------------------------------------

  /** A consumer's track arrived: audio gets a hidden <audio>, video goes on its tile. */
  addTrack({ peerId, consumerId, kind, source, track, paused, layers }) {
    const name = this.nameOf(peerId);
    if (kind === 'audio') {
      const tile = this._tile(peerId, 'webcam', name, false);
      const audio = el('audio', {
        autoplay: true,
        'data-remote-peer': peerId,
        'data-source': source,
        'data-consumer-id': consumerId,
      });
      audio.srcObject = new MediaStream([track]);
      if (this.sinkId && audio.setSinkId) audio.setSinkId(this.sinkId).catch(() => {});
      tile.append(audio);
      this._play(audio);
      tile.dataset.muted = paused ? 'true' : 'false';
      return;
    }
    const isScreen = source === 'screen';
    const label = isScreen ? t('tile.screenOf', { name }) : name;
    const tile = this._tile(peerId, isScreen ? 'screen' : 'webcam', label, false);
    const video = this._setVideo(tile, track, { remotePeer: peerId, source, consumerId });
    tile.dataset.video = paused ? 'off' : 'on';
    if (layers && (layers.spatialLayers > 1 || layers.temporalLayers > 1)) {
      this.videoLayers.set(consumerId, { video, layers, timer: null, tile });
      this._resize.observe(tile);
      this._chooseLayers(consumerId);
    }
    this.layout();
  }

  removeTrack({ peerId, consumerId, kind, source }) {
    for (const media of this.root.querySelectorAll(`[data-consumer-id="${CSS.escape(consumerId)}"]`)) {
      media.srcObject = null;
      media.remove();
    }
    const entry = this.videoLayers.get(consumerId);
    if (entry) {
      clearTimeout(entry.timer);
      this._resize.unobserve(entry.tile);
      this.videoLayers.delete(consumerId);
    }
    if (kind === 'video') {
      if (source === 'screen') this._removeTile(`${peerId}|screen`);
      else {
        const tile = this.tiles.get(`${peerId}|webcam`);
        if (tile) tile.dataset.video = 'off';
      }
    } else {
      const tile = this.tiles.get(`${peerId}|webcam`);
      if (tile) tile.dataset.muted = 'true';
    }
    this.layout();
  }

  /** A remote producer was paused or resumed (muted mic, stopped video). */
  setPaused({ peerId, kind, source, paused }) {
    const tile = this.tiles.get(`${peerId}|${source === 'screen' ? 'screen' : 'webcam'}`);
    if (!tile) return;
    if (kind === 'audio') tile.dataset.muted = paused ? 'true' : 'false';
    else tile.dataset.video = paused ? 'off' : 'on';
  }

  setActiveSpeaker(peerId) {
    for (const [key, tile] of this.tiles) {
      const speaking = peerId != null && key === `${peerId}|webcam`;
      tile.classList.toggle('tile--speaking', speaking);
      tile.dataset.speaking = speaking ? 'true' : 'false';
    }
  }

  /** Route every remote <audio> to the chosen output device. */
  async setSinkId(deviceId) {
    this.sinkId = deviceId;
    const work = [];
    for (const audio of this.root.querySelectorAll('audio')) {
      if (audio.setSinkId) work.push(audio.setSinkId(deviceId).catch(() => {}));
    }
    await Promise.all(work);
  }

  /** Retry playback (after a click, when the browser blocked autoplay of sound). */
  resumePlayback() {
    for (const media of this.root.querySelectorAll('audio, video')) {
      if (media.paused && media.srcObject) this._play(media);
    }
  }

  clear() {
    for (const key of [...this.tiles.keys()]) this._removeTile(key);
    this.layout();
  }

  // --- layout -------------------------------------------------------------------------

  layout() {
    const count = this.tiles.size;
    this.root.dataset.count = String(count);
    if (this.pinned && !this.tiles.has(this.pinned)) this.pinned = null;
    // On the stage: the enlarged tile, else the first shared screen.
    const stage = this.pinned ?? [...this.tiles.keys()].find((key) => key.endsWith('|screen')) ?? null;
    for (const [key, tile] of this.tiles) tile.classList.toggle('tile--stage', key === stage);
    const presenting = stage !== null;
    this.root.classList.toggle('grid--presenting', presenting);
    if (presenting) {
      // Everything but the first screen goes to the strip.
      this.root.style.setProperty('--rows', String(Math.max(1, count - 1)));
      return;
    }
    if (count === 0) return;
    const rect = this.root.getBoundingClientRect();
    const style = getComputedStyle(this.root);
    const px = (name) => parseFloat(style[name]) || 0;
    const width = rect.width - px('paddingLeft') - px('paddingRight');
    const height = rect.height - px('paddingTop') - px('paddingBottom');
    if (width <= 0 || height <= 0) return;
    const gap = px('columnGap') || 8;
    const { cols, tileWidth } = bestColumns(count, width, height, gap);
    this.root.style.setProperty('--cols', String(cols));
    this.root.style.setProperty('--tile-width', `${Math.floor(tileWidth)}px`);
  }

  // --- internals ----------------------------------------------------------------------

  _tile(peerId, source, label, local) {
    const key = `${peerId}|${source}`;
    let tile = this.tiles.get(key);
    if (tile) return tile;
    tile = el('div', {
      className: `tile tile--${source}${local ? ' tile--local' : ''}`,
      role: 'listitem',
      'aria-label': label,
      'data-peer-id': peerId,
      'data-tile': source,
      'data-video': 'off',
      'data-muted': source === 'webcam' ? 'true' : 'false',
    });
    const avatar = el('div', { className: 'tile__avatar', 'aria-hidden': 'true' }, [
      el('span', { className: 'avatar', text: initials(label) }),
    ]);
    const mic = el('span', { className: 'tile__mic', role: 'img', 'aria-label': t('tile.muted'), title: t('tile.muted') });
    const labelNode = el('div', { className: 'tile__label' }, [
      mic,
      el('span', { className: 'tile__name', text: label }),
    ]);
    tile.append(avatar, labelNode);
    if (!local && this.isHost && source === 'webcam') tile.append(this._hostActions(peerId));
    if (!local && source === 'webcam') {
      tile.append(this._pinButton(peerId, label));
      tile.addEventListener('dblclick', () => this.pin(peerId));
    }
    // Ours first, then people, each person's screen after them.
    if (local) this.root.prepend(tile);
    else this.root.append(tile);
    this.tiles.set(key, tile);
    return tile;
  }

  _pinButton(peerId, label) {
    const button = el('button', {
      type: 'button',
      className: 'tile__action tile__pin',
      'data-tile-action': 'pin',
      'aria-pressed': 'false',
      text: t('tile.enlarge', { name: label }),
    });
    button.addEventListener('click', () => this.pin(peerId));
    return button;
  }

  _hostActions(peerId) {
    const name = () => this.nameOf(peerId);
    const mute = el('button', { type: 'button', className: 'tile__action', 'data-host-action': 'mute' });
    const remove = el('button', { type: 'button', className: 'tile__action tile__action--danger', 'data-host-action': 'remove' });
    const refresh = () => {
      mute.textContent = t('control.hostMute', { name: name() });
      remove.textContent = t('control.hostRemove', { name: name() });
    };
    refresh();
    mute.addEventListener('click', () => this.onHostMute?.(peerId));
    remove.addEventListener('click', () => {
      if (window.confirm(t('control.confirmRemove', { name: name() }))) this.onHostRemove?.(peerId);
    });
    mute.addEventListener('focus', refresh);
    remove.addEventListener('focus', refresh);
    return el('div', { className: 'tile__host-actions' }, [mute, remove]);
  }

  _setVideo(tile, track, { mirror = false, remotePeer, source, consumerId } = {}) {
    let video = tile.querySelector('video');
    if (!track) {
      if (video) {
        video.srcObject = null;
        video.remove();
      }
      tile.dataset.video = 'off';
      return null;
    }
    if (!video || (consumerId && video.dataset.consumerId !== consumerId)) {
      video?.remove();
      video = el('video', {
        className: `tile__video${mirror ? ' tile__video--mirror' : ''}`,
        autoplay: true,
        playsinline: true,
        muted: true,
        'data-remote-peer': remotePeer,
        'data-source': source,
        'data-consumer-id': consumerId,
      });
      video.muted = true; // sound plays through the <audio> element
      tile.prepend(video);
    }
    if (video.srcObject?.getVideoTracks()[0] !== track) video.srcObject = new MediaStream([track]);
    this._play(video);
    tile.dataset.video = 'on';
    return video;
  }

  _play(media) {
    const promise = media.play();
    if (promise) promise.catch(() => { /* resumed on the next click (resumePlayback) */ });
  }

  _removeTile(key) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    for (const media of tile.querySelectorAll('audio, video')) media.srcObject = null;
    this._resize.unobserve(tile);
    tile.remove();
    this.tiles.delete(key);
  }

  _onResize(entries) {
    for (const entry of entries) {
      for (const [consumerId, info] of this.videoLayers) {
        if (info.tile === entry.target) this._chooseLayers(consumerId);
      }
    }
  }

  _chooseLayers(consumerId) {
    const info = this.videoLayers.get(consumerId);
    if (!info) return;
    clearTimeout(info.timer);
    info.timer = setTimeout(() => {
      const height = info.tile.getBoundingClientRect().height;
      const spatial = layerForHeight(height, window.devicePixelRatio, info.layers.spatialLayers);
      const temporal = Math.max(0, info.layers.temporalLayers - 1);
      this.onLayers?.(consumerId, spatial, temporal);
    }, LAYER_DEBOUNCE_MS);
  }
}
