// The media type and pixel size of an avatar image, read from its header (PNG, GIF, JPEG), for the
// XEP-0084 <info/> a converted vCard photo gets: width and height only where the header tells them.

export interface ImageInfo { type?: string; width?: number; height?: number }

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function imageInfo(data: Buffer): ImageInfo {
  // PNG: the IHDR chunk comes first (width, height: 32-bit big-endian at 16 and 20).
  if (data.length >= 24 && data.subarray(0, 8).equals(PNG) && data.toString('latin1', 12, 16) === 'IHDR') {
    return { type: 'image/png', width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  // GIF87a/GIF89a: logical screen width and height, 16-bit little-endian at 6 and 8.
  if (data.length >= 10 && data.toString('latin1', 0, 3) === 'GIF') {
    return { type: 'image/gif', width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  }
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return { type: 'image/jpeg', ...jpegSize(data) };
  return {};
}

/** The size from the first start-of-frame segment (SOF0-15 but DHT, JPG and DAC), walking the segments. */
function jpegSize(data: Buffer): { width?: number; height?: number } {
  let i = 2;
  while (i + 9 < data.length) {
    if (data[i] !== 0xff) return {};
    const marker = data[i + 1]!;
    if (marker === 0xff) { i++; continue; } // fill byte
    const len = data.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: data.readUInt16BE(i + 5), width: data.readUInt16BE(i + 7) };
    }
    if (marker === 0xd9 || marker === 0xda) return {}; // end of image, or the scan: no frame header before it
    i += 2 + len;
  }
  return {};
}
