// The call page's collaboration features, added to the in-call view: toolbar buttons (chat
// with its unread count, raise hand, reactions, whiteboard, and for hosts the lobby), a side
// panel (chat, raised hands, lobby) and the whiteboard. Everything goes through the meeting
// socket (signaling.js) with the requests of rtc/signaling/PROTOCOL.md; after a reconnection
// the history, the board, the hands and the lobby are fetched again.

import { BoardView } from './board-view.js';
import { ChatPanel } from './chat-panel.js';
import { el } from './dom.js';
import { t } from './i18n.js';

export const REACTIONS = ['👍', '👏', '😂', '❤️', '🎉', '😮', '🤔', '👋'];
const REACTION_SHOWN_MS = 4000;

function controlButton(action, glyph, label, attributes = {}) {
  const labelNode = el('span', { className: 'control__label', text: label });
  const button = el('button', { type: 'button', className: 'control', 'data-action': action, ...attributes }, [
    el('span', { className: 'control__glyph', 'aria-hidden': 'true', text: glyph }),
    labelNode,
  ]);
  button.labelNode = labelNode;
  return button;
}

export class Collaboration {
  /**
   * @param {object} options
   * @param {HTMLElement} options.inCall the in-call section.
   * @param {import('./signaling.js').SignalingClient} options.signaling
   * @param {import('./call-controller.js').CallController} options.controller
   * @param {object} options.config the page's config (isHost, userId, chatMaxChars).
   * @param {(text: string, tone?: string) => void} options.toast
   * @param {(text: string) => void} options.announce
   */
  constructor({ inCall, signaling, controller, config, toast, announce }) {
    this.signaling = signaling;
    this.controller = controller;
    this.isHost = Boolean(config.isHost);
    this.toast = toast;
    this.announce = announce;
    this.hands = new Map(); // peerId -> hand, in raise order
    this.waiting = new Map(); // userId -> person waiting in the lobby
    this.open = null;

    // Panels.
    this.panel = el('aside', { id: 'side-panel', className: 'side-panel', hidden: true, 'aria-label': t('panel.label') });
    this.sections = {};
    for (const name of ['chat', 'hands', ...(this.isHost ? ['lobby'] : [])]) {
      const heading = el('h2', { id: `${name}-title`, className: 'side-panel__title', text: t(`panel.${name}`) });
      const close = el('button', { type: 'button', className: 'side-panel__close tile__action', text: t('panel.close'), 'aria-label': t('panel.closeNamed', { name: t(`panel.${name}`) }) });
      close.addEventListener('click', () => this.toggle(name, false));
      const section = el('section', { id: `${name}-section`, className: `side-panel__section side-panel__section--${name}`, 'aria-labelledby': `${name}-title`, hidden: true }, [
        el('header', { className: 'side-panel__header' }, [heading, close]),
      ]);
      section.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') this.toggle(name, false);
      });
      this.sections[name] = section;
      this.panel.append(section);
    }
    this.handList = el('ol', { className: 'hands__list', 'aria-label': t('hands.queue'), 'data-hand-queue': '' });
    this.handsEmpty = el('p', { className: 'muted', text: t('hands.none') });
    this.sections.hands.append(this.handsEmpty, this.handList);
    if (this.isHost) {
      this.lobbyList = el('ul', { className: 'lobby__list', 'data-lobby-list': '' });
      this.lobbyEmpty = el('p', { className: 'muted', text: t('lobby.none') });
      this.sections.lobby.append(this.lobbyEmpty, this.lobbyList);
    }
    this.boardSection = el('section', { id: 'board', className: 'board', hidden: true, 'aria-label': t('board.label') });
    inCall.append(this.panel, this.boardSection);

    // Toolbar buttons, before Leave.
    const controls = inCall.querySelector('.controls');
    const leave = controls.querySelector('[data-action="leave"]');
    this.buttons = {
      chat: controlButton('chat', '💬', t('control.chat'), { 'aria-controls': 'chat-section', 'aria-expanded': 'false' }),
      hand: controlButton('raise-hand', '✋', t('control.raiseHand'), { 'aria-pressed': 'false' }),
      react: controlButton('react', '😊', t('control.react'), { 'aria-expanded': 'false', 'aria-controls': 'reaction-menu' }),
      hands: controlButton('hands', '🙋', t('control.hands'), { 'aria-controls': 'hands-section', 'aria-expanded': 'false' }),
      board: controlButton('whiteboard', '🖊️', t('control.whiteboard'), { 'aria-controls': 'board', 'aria-expanded': 'false' }),
    };
    if (this.isHost) {
      this.buttons.lobby = controlButton('lobby', '🚪', t('control.lobby'), { 'aria-controls': 'lobby-section', 'aria-expanded': 'false' });
    }
    this.badges = {};
    for (const name of ['chat', 'hands', 'lobby']) {
      if (!this.buttons[name]) continue;
      this.badges[name] = el('span', { className: 'control__badge', hidden: true, 'data-badge': name });
      this.buttons[name].append(this.badges[name]);
    }
    this.reactionMenu = el('div', { id: 'reaction-menu', className: 'reaction-menu', role: 'group', 'aria-label': t('control.react'), hidden: true },
      REACTIONS.map((emoji) => {
        const button = el('button', { type: 'button', className: 'reaction-menu__item', 'data-reaction': emoji, 'aria-label': t('reaction.send', { emoji }), text: emoji });
        button.addEventListener('click', () => this.react(emoji));
        return button;
      }));
    this.reactionMenu.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.toggleReactions(false);
    });
    for (const button of Object.values(this.buttons)) controls.insertBefore(button, leave);
    controls.insertBefore(this.reactionMenu, leave);

    this.buttons.chat.addEventListener('click', () => this.toggle('chat'));
    this.buttons.hands.addEventListener('click', () => this.toggle('hands'));
    this.buttons.lobby?.addEventListener('click', () => this.toggle('lobby'));
    this.buttons.hand.addEventListener('click', () => this.toggleHand());
    this.buttons.react.addEventListener('click', () => this.toggleReactions());
    this.buttons.board.addEventListener('click', () => this.toggleBoard());

    this.chat = new ChatPanel({
      root: this.sections.chat,
      signaling,
      peers: () => controller.peers,
      isHost: this.isHost,
      userId: config.userId,
      maxChars: config.chatMaxChars ?? 2000,
      onUnread: (count) => this.setBadge('chat', count, 'control.chatUnread'),
      announce,
      toast,
    });
    this.board = new BoardView({
      root: this.boardSection, signaling, isHost: this.isHost, toast, announce,
      onClose: () => this.toggleBoard(false),
    });

    signaling.on('hand:raised', (hand) => this.handRaised(hand));
    signaling.on('hand:lowered', ({ peerId, by }) => this.handLowered(peerId, by));
    signaling.on('reaction:shown', (reaction) => this.showReaction(reaction));
    signaling.on('lobby:knock', (person) => this.knocked(person));
    signaling.on('lobby:left', ({ userId }) => this.unwait(userId));
    signaling.on('lobby:decided', ({ userId }) => this.unwait(userId));
    signaling.on('open', ({ reconnected }) => {
      if (reconnected) this.load();
    });
    // The server dropped events for this page (it fell far behind): fetch everything again.
    signaling.on('events:missed', () => this.load());
    controller.on('peer-joined', () => this.markTiles());
    controller.on('peer-left', (peerId) => {
      if (this.hands.delete(peerId)) this.renderHands();
    });
    controller.on('local-changed', () => this.markTiles());
    controller.on('state', (state) => {
      if (state === 'joined') this.loadHands();
    });
  }

  /** Fetch what the page shows: chat history, board, lobby (hosts); hands once in the call. */
  async load() {
    await Promise.all([
      this.chat.loadHistory(),
      this.board.load(),
      this.isHost ? this.loadLobby() : null,
      this.controller.peerId ? this.loadHands() : null,
    ]);
  }

  // --- panels -------------------------------------------------------------------------

  toggle(name, show = this.open !== name) {
    this.open = show ? name : (this.open === name ? null : this.open);
    for (const [key, section] of Object.entries(this.sections)) {
      const visible = key === this.open;
      section.hidden = !visible;
      this.buttons[key]?.setAttribute('aria-expanded', String(visible));
    }
    this.panel.hidden = this.open === null;
    this.chat.setVisible(this.open === 'chat');
    if (this.open && this.open !== 'chat') this.sections[this.open].querySelector('button')?.focus();
    if (!show) this.buttons[name]?.focus();
  }

  toggleBoard(show = this.boardSection.hidden) {
    this.boardSection.hidden = !show;
    this.buttons.board.setAttribute('aria-expanded', String(show));
    this.board.setVisible(show);
    if (!show) this.buttons.board.focus();
  }

  toggleReactions(show = this.reactionMenu.hidden) {
    this.reactionMenu.hidden = !show;
    this.buttons.react.setAttribute('aria-expanded', String(show));
    if (show) this.reactionMenu.querySelector('button')?.focus();
    else this.buttons.react.focus();
  }

  setBadge(name, count, labelKey) {
    const badge = this.badges[name];
    if (!badge) return;
    badge.hidden = count === 0;
    badge.textContent = String(count);
    const label = count ? t(labelKey, { count }) : t(`control.${name}`);
    this.buttons[name].setAttribute('aria-label', label);
  }

  // --- hands and reactions ------------------------------------------------------------

  async loadHands() {
    try {
      const { hands } = await this.signaling.request('hand:list');
      this.hands = new Map(hands.map((hand) => [hand.peerId, hand]));
      this.renderHands();
    } catch (error) {
      console.warn('hand list failed', error);
    }
  }

  async toggleHand() {
    const mine = this.controller.peerId && this.hands.has(this.controller.peerId);
    try {
      await this.signaling.request(mine ? 'hand:lower' : 'hand:raise');
    } catch (error) {
      this.toast(error.message, 'error');
    }
  }

  handRaised(hand) {
    this.hands.set(hand.peerId, hand);
    this.renderHands();
    if (hand.peerId !== this.controller.peerId) this.announce(t('hands.raised', { name: hand.displayName }));
  }

  handLowered(peerId, by) {
    const hand = this.hands.get(peerId);
    if (!this.hands.delete(peerId)) return;
    this.renderHands();
    if (peerId === this.controller.peerId && by === 'host') this.toast(t('hands.loweredByHost'));
    else if (hand) this.announce(t('hands.lowered', { name: hand.displayName }));
  }

  renderHands() {
    const items = [...this.hands.values()].map((hand) => {
      const mine = hand.peerId === this.controller.peerId;
      const item = el('li', { className: 'hands__item', 'data-hand-peer': hand.peerId }, [
        el('span', { text: mine ? t('chat.you') : hand.displayName }),
      ]);
      if (this.isHost || mine) {
        const lower = el('button', { type: 'button', className: 'tile__action', text: t('hands.lower'), 'aria-label': t('hands.lowerNamed', { name: hand.displayName }) });
        lower.addEventListener('click', () => this.signaling.request('hand:lower', mine ? {} : { peerId: hand.peerId })
          .catch((error) => this.toast(error.message, 'error')));
        item.append(' ', lower);
      }
      return item;
    });
    this.handList.replaceChildren(...items);
    this.handsEmpty.hidden = items.length > 0;
    this.setBadge('hands', items.length, 'control.handsCount');
    const raised = Boolean(this.controller.peerId && this.hands.has(this.controller.peerId));
    this.buttons.hand.setAttribute('aria-pressed', String(raised));
    this.buttons.hand.labelNode.textContent = raised ? t('control.lowerHand') : t('control.raiseHand');
    this.markTiles();
  }

  _tileOf(peerId) {
    const key = peerId === this.controller.peerId ? 'local' : peerId;
    return document.querySelector(`.tile[data-peer-id="${CSS.escape(key)}"][data-tile="webcam"]`);
  }

  /** Put the hand mark on the tiles of the peers with a hand up (and only on them). */
  markTiles() {
    for (const mark of document.querySelectorAll('.tile__hand')) mark.remove();
    for (const hand of this.hands.values()) {
      const label = this._tileOf(hand.peerId)?.querySelector('.tile__label');
      label?.prepend(el('span', { className: 'tile__hand', role: 'img', 'aria-label': t('hands.mark'), title: t('hands.mark'), text: '✋' }));
    }
  }

  async react(emoji) {
    this.toggleReactions(false);
    try {
      await this.signaling.request('reaction:send', { emoji });
    } catch (error) {
      this.toast(error.message, 'error');
    }
  }

  showReaction({ peerId, emoji, displayName }) {
    const tile = this._tileOf(peerId);
    if (tile) {
      const bubble = el('span', { className: 'tile__reaction', 'data-reaction': emoji, 'aria-hidden': 'true', text: emoji });
      tile.append(bubble);
      setTimeout(() => bubble.remove(), REACTION_SHOWN_MS);
    }
    this.announce(t('reaction.shown', { name: displayName, emoji }));
  }

  // --- lobby (hosts) ------------------------------------------------------------------

  async loadLobby() {
    try {
      const { waiting } = await this.signaling.request('lobby:list');
      this.waiting = new Map(waiting.map((person) => [person.userId, person]));
      this.renderLobby();
    } catch (error) {
      console.warn('lobby list failed', error);
    }
  }

  knocked(person) {
    this.waiting.set(person.userId, person);
    this.renderLobby();
    this.toast(t('lobby.knock', { name: person.displayName }));
  }

  unwait(userId) {
    if (this.waiting.delete(userId)) this.renderLobby();
  }

  renderLobby() {
    if (!this.isHost) return;
    const items = [...this.waiting.values()].map((person) => {
      const admit = el('button', { type: 'button', className: 'button button--small button--primary', 'data-lobby-admit': String(person.userId), text: t('lobby.admit'), 'aria-label': t('lobby.admitNamed', { name: person.displayName }) });
      const deny = el('button', { type: 'button', className: 'button button--small', 'data-lobby-deny': String(person.userId), text: t('lobby.deny'), 'aria-label': t('lobby.denyNamed', { name: person.displayName }) });
      const decide = (type) => this.signaling.request(type, { userId: person.userId })
        .then(() => this.unwait(person.userId))
        .catch((error) => this.toast(error.message, 'error'));
      admit.addEventListener('click', () => decide('lobby:admit'));
      deny.addEventListener('click', () => decide('lobby:deny'));
      return el('li', { className: 'lobby__item' }, [el('span', { className: 'lobby__name', text: person.displayName }), admit, deny]);
    });
    this.lobbyList.replaceChildren(...items);
    this.lobbyEmpty.hidden = items.length > 0;
    this.setBadge('lobby', items.length, 'control.lobbyCount');
  }

  /** What tests read: chat texts, hands, board element ids and shapes. */
  snapshot() {
    return {
      chat: [...this.chat.items.values()].map((item) => item.querySelector('[data-chat-text]').textContent),
      hands: [...this.hands.keys()],
      board: this.board.model.ids(),
      shapes: this.board.model.ordered().map(({ id, type, x, y, w, h, points }) => ({ id, type, x, y, w, h, points })),
      waiting: [...this.waiting.keys()],
    };
  }
}
