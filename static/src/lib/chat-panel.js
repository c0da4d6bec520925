// The call page's chat: the message log (history first, then live chat:message events), a form
// to write to everyone or privately to one person, the host's delete buttons, and the unread
// count shown on the toolbar button while the panel is closed. Message texts are shown as text
// (text nodes), with http(s) links made clickable by linkify.js.

import { el, shortTime } from './dom.js';
import { t } from './i18n.js';
import { appendLinkified } from './linkify.js';

export class ChatPanel {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the panel section to fill.
   * @param {import('./signaling.js').SignalingClient} options.signaling
   * @param {() => Map<string, {displayName: string}>} options.peers the call's peers by id.
   * @param {boolean} options.isHost show delete buttons.
   * @param {number} options.maxChars CHAT_MAX_CHARS.
   * @param {(count: number) => void} options.onUnread the unread count changed.
   * @param {(text: string) => void} options.announce say something to screen readers.
   */
  constructor({ root, signaling, peers, isHost, maxChars, userId, onUnread, announce, toast }) {
    this.signaling = signaling;
    this.peers = peers;
    this.isHost = isHost;
    this.userId = userId;
    this.onUnread = onUnread;
    this.announce = announce;
    this.toast = toast;
    this.visible = false;
    this.unread = 0;
    this.items = new Map();
    this.log = el('ol', { className: 'chat__log', role: 'log', 'aria-live': 'polite', 'aria-label': t('chat.log'), 'data-chat-log': '' });
    this.empty = el('p', { className: 'chat__empty muted', text: t('chat.empty') });
    this.to = el('select', { id: 'chat-to', className: 'chat__to' });
    this.input = el('textarea', { id: 'chat-input', className: 'chat__input', rows: '2', maxlength: String(maxChars), required: true });
    this.send = el('button', { type: 'submit', className: 'button button--primary', text: t('chat.send') });
    this.form = el('form', { className: 'chat__form' }, [
      el('label', { for: 'chat-to', className: 'chat__label', text: t('chat.to') }),
      this.to,
      el('label', { for: 'chat-input', className: 'visually-hidden', text: t('chat.message') }),
      this.input,
      el('p', { className: 'chat__hint muted', text: t('chat.hint') }),
      this.send,
    ]);
    root.append(this.empty, this.log, this.form);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.to.addEventListener('focus', () => this.refreshRecipients());
    signaling.on('chat:message', (message) => this.show(message, { live: true }));
    signaling.on('chat:deleted', ({ id }) => this.remove(id));
    this.refreshRecipients();
  }

  /** Load the history (again after a reconnection); messages already shown are kept once. */
  async loadHistory() {
    try {
      const { messages } = await this.signaling.request('chat:history');
      for (const message of messages) this.show(message, { live: false });
    } catch (error) {
      console.warn('chat history failed', error);
    }
  }

  /** The "to" choices: everyone, then each peer of the call by name. */
  refreshRecipients() {
    const chosen = this.to.value;
    const options = [el('option', { value: '', text: t('chat.everyone') })];
    for (const [peerId, peer] of this.peers()) {
      options.push(el('option', { value: peerId, text: peer.displayName || t('peer.anonymous') }));
    }
    this.to.replaceChildren(...options);
    this.to.value = [...this.to.options].some((o) => o.value === chosen) ? chosen : '';
  }

  async submit() {
    const text = this.input.value;
    if (!text.trim() || this.send.disabled) return;
    this.send.disabled = true;
    const data = { text };
    if (this.to.value) data.to = this.to.value;
    try {
      await this.signaling.request('chat:send', data);
      this.input.value = '';
    } catch (error) {
      this.toast(t('chat.failed', { message: error.message }), 'error');
    } finally {
      this.send.disabled = false;
      this.input.focus();
    }
  }

  /** Add a message to the log (once per id). */
  show(message, { live }) {
    if (this.items.has(message.id)) return;
    const mine = message.userId === this.userId;
    const meta = el('p', { className: 'chat__meta' }, [
      el('strong', { className: 'chat__author', text: mine ? t('chat.you') : message.displayName }),
      ' ',
      el('time', { datetime: message.sentAt, text: shortTime(message.sentAt) }),
    ]);
    if (message.private) {
      const label = mine
        ? t('chat.privateTo', { name: message.to?.displayName ?? '' })
        : t('chat.privateFrom');
      meta.append(' ', el('span', { className: 'badge chat__private', text: label }));
    }
    const body = el('p', { className: 'chat__text', 'data-chat-text': '' });
    appendLinkified(body, message.text);
    const item = el('li', {
      className: `chat__item${message.private ? ' chat__item--private' : ''}`,
      'data-message-id': String(message.id),
    }, [meta, body]);
    if (this.isHost) {
      const remove = el('button', {
        type: 'button',
        className: 'chat__delete tile__action',
        'aria-label': t('chat.delete', { name: message.displayName }),
        text: t('chat.deleteShort'),
      });
      remove.addEventListener('click', () => this.signaling.request('chat:delete', { id: message.id })
        .catch((error) => this.toast(error.message, 'error')));
      item.append(remove);
    }
    this.items.set(message.id, item);
    const after = [...this.log.children].find((node) => Number(node.dataset.messageId) > message.id);
    this.log.insertBefore(item, after ?? null);
    this.empty.hidden = true;
    this.log.scrollTop = this.log.scrollHeight;
    if (live && !mine && (!this.visible || document.hidden)) {
      this.unread += 1;
      this.onUnread(this.unread);
      this.announce(t('chat.newFrom', { name: message.displayName }));
    }
  }

  remove(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.remove();
    this.items.delete(id);
    this.empty.hidden = this.items.size > 0;
    this.announce(t('chat.deleted'));
  }

  /** The panel was shown or hidden: showing it reads every message. */
  setVisible(visible) {
    this.visible = visible;
    if (visible) {
      this.unread = 0;
      this.onUnread(0);
      this.refreshRecipients();
      this.input.focus();
    }
  }
}
