// Unit tests of the collaboration helpers: chat links and the whiteboard's merge (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BoardModel, hits } from '../src/lib/board-model.js';
import { linkify } from '../src/lib/linkify.js';

test('links become link segments; markup and other schemes stay text', () => {
  assert.deepEqual(linkify('see https://example.com/a?b=1, then <b>x</b>'), [
    { type: 'text', text: 'see ' },
    { type: 'link', href: 'https://example.com/a?b=1', text: 'https://example.com/a?b=1' },
    { type: 'text', text: ', then <b>x</b>' },
  ]);
  assert.deepEqual(linkify('javascript:alert(1) <a href="http://x">'), [
    { type: 'text', text: 'javascript:alert(1) <a href="' },
    { type: 'link', href: 'http://x/', text: 'http://x' },
    { type: 'text', text: '">' },
  ]);
  assert.deepEqual(linkify(''), []);
  assert.deepEqual(linkify('(http://a.example/b).'), [
    { type: 'text', text: '(' },
    { type: 'link', href: 'http://a.example/b', text: 'http://a.example/b' },
    { type: 'text', text: ').' },
  ]);
});

const stroke = (id) => ({ id, type: 'pen', color: '#000000', width: 2, points: [0, 0, 10, 10] });

test('the same operations in any order give the same board', () => {
  const ops = [
    { op: 'add', seq: 1, element: stroke('a') },
    { op: 'add', seq: 2, element: stroke('b') },
    { op: 'erase', seq: 3, ids: ['a'] },
    { op: 'add', seq: 4, element: stroke('c') },
    { op: 'clear', seq: 5 },
    { op: 'add', seq: 6, element: stroke('d') },
  ];
  const orders = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 4, 1, 5, 3], [4, 3, 5, 0, 2, 1]];
  for (const order of orders) {
    const board = new BoardModel();
    for (const index of order) board.apply(ops[index]);
    assert.deepEqual(board.ids(), ['d'], order.join());
    assert.equal(board.seq, 6);
  }
});

test('a snapshot merges with events that came before and after it', () => {
  const board = new BoardModel();
  board.apply({ op: 'erase', seq: 3, ids: ['a'] });
  board.load({ seq: 2, clearedSeq: 0, elements: [{ ...stroke('a'), seq: 1 }, { ...stroke('b'), seq: 2 }] });
  board.apply({ op: 'add', seq: 4, element: stroke('c') });
  assert.deepEqual(board.ids(), ['b', 'c']);
});

test('our own element shows at once and keeps its place once confirmed', () => {
  const board = new BoardModel();
  board.add(stroke('mine'));
  board.apply({ op: 'add', seq: 1, element: stroke('theirs') });
  assert.deepEqual(board.ids(), ['theirs', 'mine']);
  board.confirm('mine', 2);
  assert.deepEqual(board.ids(), ['theirs', 'mine']);
  board.add(stroke('late'));
  board.apply({ op: 'clear', seq: 5 });
  board.confirm('late', 4); // stored before the clear: gone
  assert.deepEqual(board.ids(), []);
});

test('the eraser hits strokes, shape outlines and texts', () => {
  assert.ok(hits(stroke('a'), 5, 5));
  assert.ok(!hits(stroke('a'), 50, 5));
  const rect = { id: 'r', type: 'rect', color: '#000000', width: 2, x: 100, y: 100, w: 200, h: 100 };
  assert.ok(hits(rect, 100, 150));
  assert.ok(!hits(rect, 200, 150));
  const text = { id: 't', type: 'text', color: '#000000', x: 10, y: 10, size: 20, text: 'hello' };
  assert.ok(hits(text, 30, 20));
  assert.ok(!hits(text, 300, 20));
  assert.ok(hits({ id: 'd', type: 'pen', color: '#000000', width: 4, points: [5, 5] }, 6, 6));
});

test('a missing seq is a gap until the board is fetched again', () => {
  const board = new BoardModel();
  board.apply({ op: 'add', seq: 1, element: stroke('a') });
  board.add(stroke('mine'));
  board.confirm('mine', 2);
  assert.equal(board.gap(), false);
  board.apply({ op: 'add', seq: 4, element: stroke('c') }); // 3 never came
  assert.equal(board.gap(), true);
  assert.equal(board.contiguous, 2);
  board.apply({ op: 'erase', seq: 5, ids: ['a'] });
  board.load({ seq: 4, clearedSeq: 0, elements: [{ ...stroke('b'), seq: 3 }, { ...stroke('c'), seq: 4 }] });
  assert.equal(board.gap(), false);
  assert.equal(board.contiguous, 5);
  assert.deepEqual(board.ids(), ['mine', 'b', 'c']);
});
