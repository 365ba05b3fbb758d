// Avatar image headers: the type and size read from PNG, GIF and JPEG headers; nothing guessed otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageInfo } from './image-info.js';

test('PNG, GIF and JPEG headers give type, width and height; unknown or truncated data gives nothing', () => {
  const png = Buffer.alloc(33);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13], 0);
  png.write('IHDR', 12, 'latin1');
  png.writeUInt32BE(640, 16);
  png.writeUInt32BE(480, 20);
  assert.deepEqual(imageInfo(png), { type: 'image/png', width: 640, height: 480 });

  const gif = Buffer.from('GIF89a\x20\x00\x10\x00\x00', 'latin1');
  assert.deepEqual(imageInfo(gif), { type: 'image/gif', width: 32, height: 16 });

  // SOI, an APP0 segment (skipped), then SOF2 (progressive): height 96, width 128
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x00, 0x60, 0x00, 0x80, 0x03, 0, 0, 0]);
  assert.deepEqual(imageInfo(jpeg), { type: 'image/jpeg', width: 128, height: 96 });
  // a JPEG whose scan starts before any frame header: the type only
  assert.deepEqual(imageInfo(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x04, 0, 0, 0, 0, 0, 0])), { type: 'image/jpeg' });

  assert.deepEqual(imageInfo(Buffer.from('not an image at all')), {});
  assert.deepEqual(imageInfo(png.subarray(0, 20)), {});
});
