// The whiteboard's content on one page: elements by id, merged from the server's ordered
// operations (whiteboard:op), the whole-board snapshot (whiteboard:state) and our own drawing.
//
// The server numbers every change (seq) and the operations commute, so the page converges
// whatever order they arrive in: an erased id stays erased (a late add of it is ignored), and a
// clear drops every element whose seq is smaller (a late add older than the clear is ignored).
// Our own elements are shown at once with seq null and get their seq from the reply.
//
// Every seq is one change, and each reaches this page once: as an event (the others' changes)
// or as the reply to our own request. So a seq that never arrives is a change this page
// missed (an overloaded server drops events a slow socket cannot take): `gap()` says so, and
// the page fetches the whole board again.

export const BOARD_WIDTH = 1600;
export const BOARD_HEIGHT = 900;
export const ARROW_HEAD = 14;

export class BoardModel {
  constructor() {
    this.elements = new Map();
    this.erased = new Set();
    this.clearedSeq = 0;
    this.seq = 0;
    this.contiguous = 0; // every seq up to this one has been seen
    this._seen = new Set();
    this._order = 0;
  }

  /** Count `seq` as seen. */
  note(seq) {
    if (seq === null || seq === undefined || seq <= this.contiguous) return;
    this._seen.add(seq);
    this.seq = Math.max(this.seq, seq);
    this._advance();
  }

  _advance() {
    while (this._seen.has(this.contiguous + 1)) {
      this.contiguous += 1;
      this._seen.delete(this.contiguous);
    }
  }

  /** Whether some change between the last contiguous seq and the newest one is missing. */
  gap() {
    return this.seq > this.contiguous;
  }

  /** Add an element (seq null while our own request is under way); false when ignored. */
  add(element, seq = null) {
    if (this.erased.has(element.id)) return false;
    if (seq !== null && seq <= this.clearedSeq) return false;
    const existing = this.elements.get(element.id);
    const order = existing ? existing.order : (this._order += 1);
    this.elements.set(element.id, { ...element, seq, order });
    if (seq !== null) this.seq = Math.max(this.seq, seq);
    return true;
  }

  /** Our element was stored with `seq` (the reply to whiteboard:draw). */
  confirm(id, seq) {
    const element = this.elements.get(id);
    if (!element) return;
    if (seq <= this.clearedSeq) this.elements.delete(id);
    else element.seq = seq;
    this.note(seq);
  }

  /** Remove elements for good (a later add of the same ids is ignored). */
  erase(ids) {
    for (const id of ids) {
      this.erased.add(id);
      this.elements.delete(id);
    }
  }

  /** Everything stored before `seq` is gone. */
  clear(seq) {
    this.clearedSeq = Math.max(this.clearedSeq, seq);
    this.seq = Math.max(this.seq, seq);
    for (const [id, element] of this.elements) {
      if (element.seq !== null && element.seq <= this.clearedSeq) this.elements.delete(id);
    }
  }

  /** Apply a whiteboard:op event (or the reply to our own erase or clear). */
  apply(op) {
    if (op.op === 'add') this.add(op.element, op.seq);
    else if (op.op === 'erase') this.erase(op.ids);
    else if (op.op === 'clear') this.clear(op.seq);
    this.note(op.seq);
  }

  /** Merge the reply to whiteboard:state (taken while events may still be arriving). */
  load(state) {
    this.clear(state.clearedSeq ?? 0);
    for (const element of state.elements ?? []) this.add(element, element.seq);
    const upTo = state.seq ?? 0;
    this.seq = Math.max(this.seq, upTo);
    if (upTo > this.contiguous) {
      this.contiguous = upTo;
      for (const seq of [...this._seen]) if (seq <= upTo) this._seen.delete(seq);
      this._advance();
    }
  }

  /** Elements in drawing order: stored ones by seq, then ours still under way. */
  ordered() {
    return [...this.elements.values()].sort((a, b) => {
      const sa = a.seq ?? Number.MAX_SAFE_INTEGER;
      const sb = b.seq ?? Number.MAX_SAFE_INTEGER;
      return sa - sb || a.order - b.order;
    });
  }

  /** The ids, in drawing order (tests compare pages with it). */
  ids() {
    return this.ordered().map((element) => element.id);
  }
}

/** Distance from point p to the segment a-b. */
function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const length = dx * dx + dy * dy;
  const t = length ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Whether the point (x, y) touches `element` within `slack` board units (the eraser). */
export function hits(element, x, y, slack = 8) {
  if (element.type === 'text') {
    const lines = String(element.text).split('\n');
    const width = Math.max(...lines.map((line) => line.length)) * element.size * 0.6;
    const height = lines.length * element.size * 1.2;
    return x >= element.x - slack && x <= element.x + width + slack
      && y >= element.y - slack && y <= element.y + height + slack;
  }
  const reach = (element.width ?? 1) / 2 + slack;
  if (element.type === 'rect' || element.type === 'ellipse') {
    const { x: left, y: top, w, h } = element;
    const inside = x >= left - reach && x <= left + w + reach && y >= top - reach && y <= top + h + reach;
    const deep = x > left + reach && x < left + w - reach && y > top + reach && y < top + h - reach;
    return inside && !deep;
  }
  const p = element.points;
  if (p.length === 2) return Math.hypot(x - p[0], y - p[1]) <= reach;
  for (let i = 0; i + 3 < p.length; i += 2) {
    if (segmentDistance(x, y, p[i], p[i + 1], p[i + 2], p[i + 3]) <= reach) return true;
  }
  return false;
}

/** Draw `elements` on a 2D context whose transform maps board units to its pixels. */
export function drawElements(ctx, elements) {
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const element of elements) {
    ctx.strokeStyle = element.color;
    ctx.fillStyle = element.color;
    if (element.type === 'text') {
      ctx.font = `${element.size}px sans-serif`;
      ctx.textBaseline = 'top';
      String(element.text).split('\n').forEach((line, index) => {
        ctx.fillText(line, element.x, element.y + index * element.size * 1.2);
      });
      continue;
    }
    ctx.lineWidth = element.width;
    ctx.beginPath();
    if (element.type === 'rect') {
      ctx.rect(element.x, element.y, element.w, element.h);
    } else if (element.type === 'ellipse') {
      ctx.ellipse(element.x + element.w / 2, element.y + element.h / 2, element.w / 2, element.h / 2, 0, 0, Math.PI * 2);
    } else {
      const p = element.points;
      ctx.moveTo(p[0], p[1]);
      if (p.length === 2) ctx.lineTo(p[0], p[1]);
      for (let i = 2; i < p.length; i += 2) ctx.lineTo(p[i], p[i + 1]);
      if (element.type === 'arrow') {
        const angle = Math.atan2(p[3] - p[1], p[2] - p[0]);
        const size = ARROW_HEAD + element.width;
        ctx.moveTo(p[2] - size * Math.cos(angle - Math.PI / 6), p[3] - size * Math.sin(angle - Math.PI / 6));
        ctx.lineTo(p[2], p[3]);
        ctx.lineTo(p[2] - size * Math.cos(angle + Math.PI / 6), p[3] - size * Math.sin(angle + Math.PI / 6));
      }
    }
    ctx.stroke();
  }
}
