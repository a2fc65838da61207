import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameReader, FrameSizeError } from '../../src/server/frames.js';

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

test('frames split across and packed within chunks come out whole and in order', () => {
  const reader = new FrameReader(1024);
  const a = Buffer.from('0123456789');
  const b = Buffer.from('abcdefghijklmnop');
  const stream = Buffer.concat([frame(a), frame(b), frame(a)]);
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 3) out.push(...reader.push(stream.subarray(i, i + 3)));
  assert.deepEqual(out.map(String), [String(a), String(b), String(a)]);
  assert.equal(reader.pendingBytes, 0);
});

test('a size prefix over the limit is refused before its bytes arrive', () => {
  const reader = new FrameReader(100);
  const head = Buffer.alloc(4);
  head.writeInt32BE(101);
  assert.throws(() => reader.push(head), FrameSizeError);
});

test('negative and too-small size prefixes are refused', () => {
  for (const size of [-1, 0, 7]) {
    const head = Buffer.alloc(4);
    head.writeInt32BE(size);
    assert.throws(() => new FrameReader(100).push(head), FrameSizeError, `size ${size}`);
  }
});

test('an incomplete frame waits for more bytes', () => {
  const reader = new FrameReader(100);
  const whole = frame(Buffer.from('12345678'));
  assert.deepEqual(reader.push(whole.subarray(0, 6)), []);
  assert.equal(reader.pendingBytes, 6);
  assert.equal(String(reader.push(whole.subarray(6))[0]), '12345678');
});
