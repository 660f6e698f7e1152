/**
 * The IDX reader on small synthetic files: a round trip (in memory, on disk, gzipped), and each way
 * a file can be damaged giving an error that names the file and what is wrong. The real MNIST
 * files are read in test/data/mnist.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS, encodeIdx, parseIdx, readIdx } from '../../src/data/idx.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two 2×3 "images" with distinct values, so a misplaced byte shows. */
const images = () => encodeIdx([2, 2, 3], Uint8Array.from({ length: 12 }, (_, k) => 10 * k + 1));

describe('encodeIdx / parseIdx', () => {
  it('writes the header the format defines: two zero bytes, type 0x08, dims, big-endian sizes', () => {
    const file = encodeIdx([258, 1], new Uint8Array(258));
    expect(Array.from(file.subarray(0, 12))).toEqual([0, 0, 0x08, 2, 0, 0, 1, 2, 0, 0, 0, 1]);
    expect(file.length).toBe(12 + 258);
  });

  it('round-trips values and dimensions, with the magic numbers MNIST uses', () => {
    const img = parseIdx(images());
    expect(img.magic).toBe(IDX_MAGIC_IMAGES);
    expect(img.dims).toEqual([2, 2, 3]);
    expect(Array.from(img.data)).toEqual(Array.from({ length: 12 }, (_, k) => 10 * k + 1));
    const lab = parseIdx(encodeIdx([4], Uint8Array.of(7, 2, 1, 0)), { magic: IDX_MAGIC_LABELS });
    expect(lab.magic).toBe(0x00000801);
    expect(Array.from(lab.data)).toEqual([7, 2, 1, 0]);
    // Zero-size dimensions are legal: an empty array.
    expect(parseIdx(encodeIdx([0, 28, 28], new Uint8Array(0))).dims).toEqual([0, 28, 28]);
  });

  it('returns a plain Uint8Array view of the values, even from a Node Buffer', () => {
    const { data } = parseIdx(Buffer.from(images()));
    expect(data.constructor).toBe(Uint8Array);
    expect(data.length).toBe(12);
  });

  it('rejects what it cannot encode', () => {
    expect(() => encodeIdx([2, 3], new Uint8Array(5))).toThrow('dims 2 × 3 hold 6 values, data has 5');
    expect(() => encodeIdx([], new Uint8Array(0))).toThrow('1 to 255 dimensions, got 0');
    expect(() => encodeIdx([-1], new Uint8Array(0))).toThrow('32-bit unsigned integers, got -1');
  });
});

describe('readIdx on files', () => {
  it('reads a synthetic file back, plain and gzipped (recognised by its bytes, not its name)', () => {
    const plain = join(dir, 'round-trip-idx3-ubyte');
    const gz = join(dir, 'round-trip-gzipped');
    writeFileSync(plain, images());
    writeFileSync(gz, gzipSync(images()));
    for (const path of [plain, gz]) {
      const r = readIdx(path, { magic: IDX_MAGIC_IMAGES });
      expect(r.dims).toEqual([2, 2, 3]);
      expect(r.data[11]).toBe(111);
    }
  });

  it('names the file in every error, and says when a gzip stream is damaged', () => {
    const damaged = join(dir, 'damaged.gz');
    writeFileSync(damaged, gzipSync(images()).subarray(0, 20));
    expect(() => readIdx(damaged)).toThrow(`${damaged}: looks gzipped but does not decompress`);
    const short = join(dir, 'short');
    writeFileSync(short, images().subarray(0, 20));
    expect(() => readIdx(short)).toThrow(`${short}: truncated`);
    expect(() => readIdx(join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});

describe('parseIdx on damaged files', () => {
  const parse = (bytes: Uint8Array, magic?: number) => () => parseIdx(bytes, { name: 'f.idx', magic });
  const withByte = (bytes: Uint8Array, at: number, value: number) => {
    const copy = bytes.slice();
    copy[at] = value;
    return copy;
  };

  it('damaged header: not starting with two zero bytes (e.g. a text or an HTML error page)', () => {
    expect(parse(new TextEncoder().encode('<html>Not Found</html>'))).toThrow('f.idx: not an IDX file: magic number 0x3c68746d does not start with two zero bytes');
    expect(parse(withByte(images(), 1, 8))).toThrow('does not start with two zero bytes');
  });

  it('damaged header: an unsupported or unknown type code, or no dimensions', () => {
    expect(parse(withByte(images(), 2, 0x0d))).toThrow('f.idx: type code 0x0d (float32) is not supported: only 0x08 (unsigned byte) is read');
    expect(parse(withByte(images(), 2, 0x42))).toThrow('type code 0x42 (not an IDX type)');
    expect(parse(Uint8Array.of(0, 0, 8, 0))).toThrow('f.idx: magic number says 0 dimensions');
  });

  it('damaged header: shorter than the magic number or than the dimensions it announces', () => {
    expect(parse(Uint8Array.of(0, 0, 8))).toThrow('f.idx: 3 bytes is too short for an IDX file');
    expect(parse(images().subarray(0, 10))).toThrow('f.idx: truncated header: 3 dimensions need 16 header bytes, the file has 10');
  });

  it('truncated body, and a body longer than the header says', () => {
    const file = images();
    expect(parse(file.subarray(0, file.length - 1))).toThrow('f.idx: truncated: the header says 2 × 2 × 3 = 12 bytes of data, the file has 11 (1 missing)');
    const long = new Uint8Array(file.length + 3);
    long.set(file);
    expect(parse(long)).toThrow('f.idx: the header says 2 × 2 × 3 = 12 bytes of data, the file has 15 (3 bytes too many)');
    // A count field corrupted upwards reads as a truncated file, not as garbage images.
    expect(parse(withByte(file, 4, 1))).toThrow(/truncated: the header says 16777218 × 2 × 3/);
  });

  it('wrong magic: a label file where an image file was expected, and the reverse', () => {
    const labels = encodeIdx([3], Uint8Array.of(1, 2, 3));
    expect(parse(labels, IDX_MAGIC_IMAGES)).toThrow(
      'f.idx: magic number 0x00000801 (unsigned byte, 1 dimension), expected 0x00000803 (unsigned byte, 3 dimensions)',
    );
    expect(parse(images(), IDX_MAGIC_LABELS)).toThrow('magic number 0x00000803 (unsigned byte, 3 dimensions), expected 0x00000801');
  });
});
