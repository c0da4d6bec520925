// The whiteboard in the call page: a toolbar (pen, line, arrow, rectangle, ellipse, text,
// eraser, pointer; colour, width, undo, the host's clear) over a canvas in board units. Drawing
// shows at once and is sent when the stroke ends (whiteboard:draw); the others' changes come as
// whiteboard:op; the whole board is fetched with whiteboard:state when the board mounts and
// after each reconnection. Keyboard: every tool is a button; on the focused canvas the arrow
// keys move a drawing cursor (Shift: farther), Enter or Space starts a shape at the cursor and
// finishes it where the cursor went (a pen stroke follows every step), erases what is under the
// cursor, points there, or puts the text field's cursor there; Escape cancels a shape being
// drawn, else closes the board. What happens is said in the board's live region.

import { BOARD_HEIGHT, BOARD_WIDTH, BoardModel, drawElements, hits } from './board-model.js';
import { el } from './dom.js';
import { t } from './i18n.js';

const TOOLS = ['pen', 'line', 'arrow', 'rect', 'ellipse', 'text', 'eraser', 'pointer'];
const MAX_POINTS = 2000;
const POINTER_EVERY_MS = 100;
const POINTER_SHOWN_MS = 3000;
const GAP_CHECK_MS = 2000;
const KEY_STEP = 20;
const KEY_STEP_FAR = 100;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
const SHAPES = new Set(['pen', 'line', 'arrow', 'rect', 'ellipse']);

function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `e${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

const round = (value) => Math.round(value * 10) / 10;

export class BoardView {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the board's section.
   * @param {import('./signaling.js').SignalingClient} options.signaling
   * @param {boolean} options.isHost may clear.
   * @param {boolean} options.canDraw
   * @param {(text: string, tone?: string) => void} options.toast
   * @param {(text: string) => void} options.announce
   * @param {() => void} options.onClose
   */
  constructor({ root, signaling, isHost, toast, announce, onClose }) {
    this.root = root;
    this.signaling = signaling;
    this.toast = toast;
    this.announce = announce;
    this.model = new BoardModel();
    this.tool = 'pen';
    this.mine = []; // our element ids, newest last (undo)
    this.drawing = null;
    this.pointers = new Map();
    this.lastPointer = 0;
    this.textCursor = { x: 80, y: 80 };
    this.keyCursor = { x: BOARD_WIDTH / 2, y: BOARD_HEIGHT / 2 };
    this.keyDrawing = false; // the shape in progress was started from the keyboard
    this.focused = false;
    this.visible = false;

    this.canvas = el('canvas', {
      className: 'board__canvas', width: String(BOARD_WIDTH), height: String(BOARD_HEIGHT),
      role: 'application', 'aria-label': t('board.canvas'), 'aria-describedby': 'board-keys', tabindex: '0', 'data-board-canvas': '',
    });
    this.keysHelp = el('p', { id: 'board-keys', className: 'visually-hidden', text: t('board.keys') });
    this.status = el('p', { className: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'data-board-status': '' });
    this.ctx = this.canvas.getContext('2d');
    this.summary = el('p', { className: 'visually-hidden', 'aria-live': 'polite' });
    this.color = el('input', { type: 'color', value: '#1d4ed8', id: 'board-color', className: 'board__color' });
    this.width = el('select', { id: 'board-width' }, [2, 4, 8, 16].map((w) => el('option', { value: String(w), text: String(w) })));
    this.width.value = '4';
    this.textInput = el('input', { type: 'text', id: 'board-text', maxlength: '500', placeholder: t('board.textPlaceholder'), hidden: true });
    this.textAdd = el('button', { type: 'button', className: 'button button--small', text: t('board.addText'), hidden: true });
    const toolButtons = TOOLS.map((tool) => {
      const button = el('button', {
        type: 'button', className: 'board__tool', 'data-board-tool': tool,
        'aria-pressed': String(tool === this.tool), text: t(`board.tool.${tool}`),
      });
      button.addEventListener('click', () => this.setTool(tool));
      return button;
    });
    this.toolButtons = toolButtons;
    const undo = el('button', { type: 'button', className: 'board__tool', 'data-board-action': 'undo', text: t('board.undo') });
    undo.addEventListener('click', () => this.undo());
    const close = el('button', { type: 'button', className: 'board__tool board__close', 'data-board-action': 'close', text: t('board.close') });
    close.addEventListener('click', () => onClose());
    const controls = [
      ...toolButtons,
      el('label', { for: 'board-color', className: 'board__field' }, [t('board.color'), ' ', this.color]),
      el('label', { for: 'board-width', className: 'board__field' }, [t('board.width'), ' ', this.width]),
      this.textInput, this.textAdd, undo,
    ];
    if (isHost) {
      const clear = el('button', { type: 'button', className: 'board__tool board__tool--danger', 'data-board-action': 'clear', text: t('board.clear') });
      clear.addEventListener('click', () => {
        if (window.confirm(t('board.confirmClear'))) this.clear();
      });
      controls.push(clear);
    }
    controls.push(close);
    const toolbar = el('div', { className: 'board__toolbar', role: 'toolbar', 'aria-label': t('board.tools') }, controls);
    root.append(toolbar, el('div', { className: 'board__stage' }, [this.canvas]), this.summary,
      this.keysHelp, this.status);

    this.textAdd.addEventListener('click', () => this.placeText());
    this.textInput.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.placeText();
      }
    });
    this.canvas.addEventListener('keydown', (event) => this.key(event));
    this.canvas.addEventListener('focus', () => {
      this.focused = true;
      this.render();
    });
    this.canvas.addEventListener('blur', () => {
      this.focused = false;
      this.render();
    });
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.defaultPrevented) onClose();
      if ((event.ctrlKey || event.metaKey) && event.key === 'z') {
        event.preventDefault();
        this.undo();
      }
    });
    this.canvas.addEventListener('pointerdown', (event) => this.down(event));
    this.canvas.addEventListener('pointermove', (event) => this.move(event));
    this.canvas.addEventListener('pointerup', (event) => this.up(event));
    this.canvas.addEventListener('pointercancel', () => {
      this.drawing = null;
      this.render();
    });
    signaling.on('whiteboard:op', (op) => {
      this.model.apply(op);
      this.render();
    });
    signaling.on('whiteboard:pointer', (pointer) => this.showPointer(pointer));
    // A change this page missed (a seq that never came) for two checks in a row: fetch the
    // whole board again.
    let lastGap = null;
    this.gapTimer = setInterval(() => {
      const gap = this.model.gap() ? this.model.contiguous : null;
      if (gap !== null && gap === lastGap && !this.loading) this.load();
      lastGap = gap;
    }, GAP_CHECK_MS);
    this.render();
  }

  /** Fetch the whole board and merge it (on mount and after each reconnection). */
  async load() {
    this.loading = true;
    try {
      this.model.load(await this.signaling.request('whiteboard:state'));
      this.render();
    } catch (error) {
      console.warn('whiteboard state failed', error);
    } finally {
      this.loading = false;
    }
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible) {
      this.render();
      this.toolButtons.find((b) => b.dataset.boardTool === this.tool)?.focus();
    }
  }

  setTool(tool) {
    this.tool = tool;
    for (const button of this.toolButtons) button.setAttribute('aria-pressed', String(button.dataset.boardTool === tool));
    this.textInput.hidden = tool !== 'text';
    this.textAdd.hidden = tool !== 'text';
    this.canvas.dataset.tool = tool;
    if (tool === 'text') this.textInput.focus();
  }

  _point(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * BOARD_WIDTH;
    const y = ((event.clientY - box.top) / box.height) * BOARD_HEIGHT;
    return [round(Math.max(0, Math.min(BOARD_WIDTH, x))), round(Math.max(0, Math.min(BOARD_HEIGHT, y)))];
  }

  /** Say what happened on the board (its own polite live region). */
  say(text) {
    this.status.textContent = text;
  }

  /** The keyboard on the focused canvas: move the cursor, start/finish, erase, point. */
  key(event) {
    const arrow = ARROWS[event.key];
    if (arrow) {
      event.preventDefault();
      const step = event.shiftKey ? KEY_STEP_FAR : KEY_STEP;
      const x = round(Math.max(0, Math.min(BOARD_WIDTH, this.keyCursor.x + arrow[0] * step)));
      const y = round(Math.max(0, Math.min(BOARD_HEIGHT, this.keyCursor.y + arrow[1] * step)));
      this.keyCursor = { x, y };
      if (this.keyDrawing && this.drawing) this.extend(x, y);
      else if (this.tool === 'pointer') this.sendPointer(x, y, false);
      this.render();
      this.say(t(this.keyDrawing ? 'board.keyTo' : 'board.keyAt', { x: Math.round(x), y: Math.round(y) }));
      return;
    }
    if (event.key === 'Escape' && this.keyDrawing) {
      event.preventDefault(); // cancels the shape, keeps the board open
      this.drawing = null;
      this.keyDrawing = false;
      this.render();
      this.say(t('board.keyCancelled'));
      return;
    }
    if (event.key !== 'Enter' && event.key !== ' ') return;
    event.preventDefault();
    const { x, y } = this.keyCursor;
    const name = t(`board.tool.${this.tool}`);
    if (this.keyDrawing && this.drawing) {
      const drawing = this.drawing;
      this.drawing = null;
      this.keyDrawing = false;
      this.commit(this._element(drawing));
      this.say(t('board.keyDrawn', { shape: name }));
    } else if (SHAPES.has(this.tool)) {
      this.drawing = { tool: this.tool, start: [x, y], points: [x, y], ...this._style() };
      this.keyDrawing = true;
      this.render();
      this.say(t('board.keyStarted', { shape: name, x: Math.round(x), y: Math.round(y) }));
    } else if (this.tool === 'eraser') {
      const target = this.model.ordered().reverse().find((element) => hits(element, x, y));
      if (target) {
        this.erase([target.id]);
        this.say(t('board.keyErased', { shape: t(`board.tool.${target.type}`) }));
      } else {
        this.say(t('board.keyNothing'));
      }
    } else if (this.tool === 'pointer') {
      this.sendPointer(x, y, true);
    } else if (this.tool === 'text') {
      this.textCursor = { x, y };
      this.textInput.focus();
    }
  }

  /** The shape in progress reaches (x, y): a pen gains a point, others move their end. */
  extend(x, y) {
    if (this.drawing.tool === 'pen') {
      const p = this.drawing.points;
      const [lx, ly] = [p[p.length - 2], p[p.length - 1]];
      if (Math.hypot(x - lx, y - ly) >= 2 && p.length / 2 < MAX_POINTS) p.push(x, y);
    } else {
      this.drawing.points = [...this.drawing.start, x, y];
    }
  }

  _style() {
    return { color: this.color.value.toLowerCase(), width: Number(this.width.value) };
  }

  down(event) {
    const [x, y] = this._point(event);
    this.keyDrawing = false; // the mouse takes over
    this.keyCursor = { x, y };
    if (this.tool === 'pointer') return this.sendPointer(x, y, true);
    if (this.tool === 'text') {
      this.textCursor = { x, y };
      if (this.textInput.value.trim()) this.placeText();
      else this.textInput.focus();
      return undefined;
    }
    this.canvas.setPointerCapture?.(event.pointerId);
    if (this.tool === 'eraser') {
      this.drawing = { tool: 'eraser', ids: new Set() };
      this.eraseAt(x, y);
      return undefined;
    }
    this.drawing = { tool: this.tool, start: [x, y], points: [x, y], ...this._style() };
    this.render();
    return undefined;
  }

  move(event) {
    const [x, y] = this._point(event);
    if (this.tool === 'pointer') return this.sendPointer(x, y, false);
    if (!this.drawing || this.keyDrawing) return undefined;
    if (this.drawing.tool === 'eraser') return this.eraseAt(x, y);
    this.extend(x, y);
    this.render();
    return undefined;
  }

  up(event) {
    const drawing = this.drawing;
    this.drawing = null;
    if (!drawing) return;
    if (drawing.tool === 'eraser') {
      if (drawing.ids.size) this.erase([...drawing.ids]);
      return;
    }
    this.move(event);
    this.commit(this._element(drawing));
  }

  _element(drawing) {
    const { tool, color, width, points } = drawing;
    const id = newId();
    if (tool === 'pen') return { id, type: 'pen', color, width, points };
    if (tool === 'line' || tool === 'arrow') {
      const p = points.length === 4 ? points : [...points, ...points];
      return { id, type: tool, color, width, points: p };
    }
    const [x1, y1, x2 = x1, y2 = y1] = points;
    return {
      id, type: tool, color, width, x: Math.min(x1, x2), y: Math.min(y1, y2),
      w: round(Math.abs(x2 - x1)), h: round(Math.abs(y2 - y1)),
    };
  }

  /** Show our element now, send it, and keep its seq once stored (or drop it if refused). */
  async commit(element) {
    this.model.add(element);
    this.mine.push(element.id);
    this.render();
    try {
      const { seq } = await this.signaling.request('whiteboard:draw', { element });
      this.model.confirm(element.id, seq);
    } catch (error) {
      this.model.erase([element.id]);
      this.mine = this.mine.filter((id) => id !== element.id);
      this.toast(t('board.failed', { message: error.message }), 'error');
    }
    this.render();
  }

  placeText() {
    const text = this.textInput.value;
    if (!text.trim()) return;
    const { color } = this._style();
    const size = Math.max(16, Number(this.width.value) * 6);
    this.commit({ id: newId(), type: 'text', color, size, text, x: round(this.textCursor.x), y: round(this.textCursor.y) });
    this.textInput.value = '';
    this.textCursor = { x: this.textCursor.x, y: (this.textCursor.y + size * 1.5) % (BOARD_HEIGHT - size) };
  }

  eraseAt(x, y) {
    for (const element of this.model.ordered()) {
      if (!this.drawing.ids.has(element.id) && hits(element, x, y)) {
        this.drawing.ids.add(element.id);
        this.model.erase([element.id]);
      }
    }
    this.render();
  }

  async erase(ids) {
    this.model.erase(ids);
    this.render();
    try {
      const { seq } = await this.signaling.request('whiteboard:erase', { ids });
      this.model.note(seq);
    } catch (error) {
      this.toast(t('board.failed', { message: error.message }), 'error');
    }
  }

  /** Take back our last element that is still on the board. */
  undo() {
    while (this.mine.length) {
      const id = this.mine.pop();
      if (this.model.elements.has(id)) return this.erase([id]);
    }
    return undefined;
  }

  async clear() {
    try {
      const { seq } = await this.signaling.request('whiteboard:clear');
      this.model.clear(seq);
      this.model.note(seq);
      this.render();
    } catch (error) {
      this.toast(t('board.failed', { message: error.message }), 'error');
    }
  }

  sendPointer(x, y, force) {
    const now = performance.now();
    if (!force && now - this.lastPointer < POINTER_EVERY_MS) return;
    this.lastPointer = now;
    this.signaling.request('whiteboard:pointer', { x, y }).catch(() => {});
  }

  showPointer({ peerId, userId, displayName, x, y }) {
    const key = peerId ?? `user-${userId}`;
    clearTimeout(this.pointers.get(key)?.timer);
    const timer = setTimeout(() => {
      this.pointers.delete(key);
      this.render();
    }, POINTER_SHOWN_MS);
    this.pointers.set(key, { displayName, x, y, timer });
    this.render();
  }

  render() {
    const ctx = this.ctx;
    if (!ctx) return;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, BOARD_WIDTH, BOARD_HEIGHT);
    const elements = this.model.ordered();
    drawElements(ctx, elements);
    if (this.drawing && this.drawing.tool !== 'eraser') drawElements(ctx, [this._element(this.drawing)]);
    if (this.focused) { // the keyboard's cursor
      const { x, y } = this.keyCursor;
      ctx.strokeStyle = '#111827';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x - 14, y);
      ctx.lineTo(x + 14, y);
      ctx.moveTo(x, y - 14);
      ctx.lineTo(x, y + 14);
      ctx.stroke();
    }
    for (const { displayName, x, y } of this.pointers.values()) {
      ctx.fillStyle = '#dc2626';
      ctx.beginPath();
      ctx.arc(x, y, 8, 0, Math.PI * 2);
      ctx.fill();
      ctx.font = '16px sans-serif';
      ctx.textBaseline = 'top';
      ctx.fillText(displayName, x + 10, y + 10);
    }
    ctx.restore();
    this.canvas.dataset.count = String(elements.length);
    this.summary.textContent = this.visible ? t('board.count', { count: elements.length }) : '';
  }
}
