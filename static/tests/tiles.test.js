// Unit tests of the grid's pure functions: layout and layer choice (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bestColumns, layerForHeight } from '../src/lib/tiles.js';

test('one tile fills the box; two side by side in a wide box, stacked in a tall one', () => {
  assert.equal(bestColumns(1, 1280, 720, 8).cols, 1);
  assert.equal(bestColumns(2, 1280, 600, 8).cols, 2);
  assert.equal(bestColumns(2, 375, 600, 8).cols, 1);
});

test('nine tiles in a 16:9 box make a 3x3 grid', () => {
  const { cols, tileWidth } = bestColumns(9, 1600, 900, 0);
  assert.equal(cols, 3);
  assert.ok(Math.abs(tileWidth - 1600 / 3) < 1);
});

test('tile width never exceeds what the height allows', () => {
  const { tileWidth } = bestColumns(1, 2000, 180, 8);
  assert.equal(tileWidth, 320);
});

test('small tiles get layer 0, medium 1, large 2, capped by the layers sent', () => {
  assert.equal(layerForHeight(120, 1, 3), 0);
  assert.equal(layerForHeight(240, 1, 3), 0);
  assert.equal(layerForHeight(300, 1, 3), 1);
  assert.equal(layerForHeight(300, 2, 3), 2); // high-DPI screens need more pixels
  assert.equal(layerForHeight(1000, 1, 3), 2);
  assert.equal(layerForHeight(1000, 1, 2), 1);
  assert.equal(layerForHeight(1000, 1, 1), 0);
});
