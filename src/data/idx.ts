/**
 * IDX files, the format MNIST is distributed in (LeCun, Cortes & Burges).
 *
 * An IDX file is a header followed by the data, all big-endian:
 *
 * | bytes            | meaning                                                                  |
 * | ---------------- | ------------------------------------------------------------------------ |
 * | 0, 1             | always 0                                                                 |
 * | 2                | type code: 0x08 unsigned byte (the only one MNIST uses), 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64 |
 * | 3                | number of dimensions, d                                                  |
 * | 4 .. 4 + 4d      | the size of each dimension, unsigned 32-bit big-endian                   |
 * | 4 + 4d ..        | the values, row-major (last dimension fastest)                           |
 *
 * The first four bytes read as one big-endian integer are the "magic number": 0x00000803 (2051)
 * for MNIST's image files (unsigned bytes, 3 dimensions: n × 28 × 28) and 0x00000801 (2049) for
 * its label files (unsigned bytes, 1 dimension: n).
 *
 * Only unsigned-byte files are read here, which covers MNIST and its look-alikes (Fashion-MNIST,
 * EMNIST, KMNIST). Everything the header promises is checked against the bytes actually there, and
 * a file that disagrees is rejected with an error naming the file and the mismatch, because a
 * truncated download read without checks shows up later as a model trained on zeros.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** Magic number of an IDX file of unsigned bytes with 3 dimensions: MNIST's image files. */
export const IDX_MAGIC_IMAGES = 0x00000803;
/** Magic number of an IDX file of unsigned bytes with 1 dimension: MNIST's label files. */
export const IDX_MAGIC_LABELS = 0x00000801;

/** The type code of unsigned bytes, the only element type this reader accepts. */
const UBYTE = 0x08;

/** Names of the type codes the IDX format defines, for error messages about the others. */
const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** A parsed IDX file of unsigned bytes. */
export interface IdxArray {
  /** The magic number: `0x0000_08_dd` with dd the number of dimensions. */
  magic: number;
  /** The size of each dimension, outermost first (for MNIST images: `[n, 28, 28]`). */
  dims: number[];
  /** The values, row-major; `data.length` is the product of `dims`. A view into the file's bytes. */
  data: Uint8Array;
}

/** Options for {@link parseIdx} and {@link readIdx}. */
export interface ParseIdxOptions {
  /** Name used in error messages (a path, usually). Default `'IDX data'`. */
  name?: string;
  /** Reject the file unless its magic number is this one (e.g. {@link IDX_MAGIC_IMAGES}). */
  magic?: number;
}

const hex = (m: number) => `0x${m.toString(16).padStart(8, '0')}`;
const describeMagic = (m: number) => `${hex(m)} (${TYPE_NAMES[(m >>> 8) & 0xff] ?? 'unknown type'}, ${m & 0xff} dimension${(m & 0xff) === 1 ? '' : 's'})`;

/**
 * Parses an IDX file of unsigned bytes held in memory (already decompressed), checking the header
 * against the bytes: two leading zero bytes, the type code 0x08, at least one dimension, a
 * complete header, the expected magic number if one is given, and a body exactly as long as the
 * dimensions say (neither truncated nor with trailing bytes).
 *
 * @param bytes the whole file.
 * @param opts `name` for error messages and an optional expected `magic`.
 * @returns the magic number, the dimensions and a view of the values (no copy).
 * @throws an Error starting with the file's name and saying what is wrong.
 *
 * @example
 * ```ts
 * const file = encodeIdx([2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
 * const { magic, dims, data } = parseIdx(file); // magic → 0x00000802, dims → [2, 3], data → [1..6]
 * parseIdx(file, { magic: IDX_MAGIC_LABELS }); // throws: magic number 0x00000802 … expected 0x00000801 …
 * ```
 */
export function parseIdx(bytes: Uint8Array, opts: ParseIdxOptions = {}): IdxArray {
  const name = opts.name ?? 'IDX data';
  const fail = (what: string): never => {
    throw new Error(`${name}: ${what}`);
  };
  if (bytes.length < 4) fail(`${bytes.length} bytes is too short for an IDX file (the magic number alone takes 4)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail(`not an IDX file: magic number ${hex(magic)} does not start with two zero bytes`);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (type !== UBYTE) {
    const known = TYPE_NAMES[type];
    fail(`type code 0x${type.toString(16).padStart(2, '0')} (${known ?? 'not an IDX type'}) is not supported: only 0x08 (unsigned byte) is read`);
  }
  if (ndims === 0) fail('magic number says 0 dimensions; an IDX array needs at least one');
  if (opts.magic !== undefined && magic !== opts.magic) {
    fail(`magic number ${describeMagic(magic)}, expected ${describeMagic(opts.magic)}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    fail(`truncated header: ${ndims} dimensions need ${headerBytes} header bytes, the file has ${bytes.length}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let k = 0; k < ndims; k++) {
    const size = view.getUint32(4 + 4 * k, false);
    dims.push(size);
    count *= size;
  }
  const body = bytes.length - headerBytes;
  const shape = dims.join(' × ');
  if (body < count) {
    fail(`truncated: the header says ${shape} = ${count} bytes of data, the file has ${body} (${count - body} missing)`);
  }
  if (body > count) {
    fail(`the header says ${shape} = ${count} bytes of data, the file has ${body} (${body - count} bytes too many)`);
  }
  // A plain Uint8Array view even when `bytes` is a Node Buffer, whose `slice` would not copy.
  return { magic, dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, count) };
}

/**
 * Reads an IDX file of unsigned bytes from disk and parses it with {@link parseIdx}. A gzipped
 * file (as the files are usually downloaded, `*.gz`) is recognised by its first two bytes
 * (0x1f 0x8b) and decompressed first, whatever its name.
 *
 * @param path the file.
 * @param opts an optional expected `magic` (the name in errors is `path`).
 * @returns the magic number, the dimensions and the values.
 * @throws if the file cannot be read or decompressed, or fails any of {@link parseIdx}'s checks.
 *
 * @example
 * ```ts
 * const labels = readIdx('t10k-labels-idx1-ubyte', { magic: IDX_MAGIC_LABELS });
 * // labels.dims → [10000]; labels.data[0] → 7
 * ```
 */
export function readIdx(path: string, opts: Omit<ParseIdxOptions, 'name'> = {}): IdxArray {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${path}: looks gzipped but does not decompress (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, { ...opts, name: path });
}

/**
 * Encodes values as an IDX file of unsigned bytes: the inverse of {@link parseIdx}, for writing
 * test fixtures or a subset of MNIST in its own format.
 *
 * @param dims the size of each dimension (1 to 255 of them, each a 32-bit unsigned integer).
 * @param data the values, row-major; its length must be the product of `dims`.
 * @returns the file's bytes (header and data).
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * writeFileSync('labels-idx1-ubyte', encodeIdx([3], Uint8Array.of(7, 2, 1))); // magic 0x00000801
 * ```
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255) throw new Error(`encodeIdx: an IDX file has 1 to 255 dimensions, got ${dims.length}`);
  let count = 1;
  for (const size of dims) {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) throw new Error(`encodeIdx: dimension sizes must be 32-bit unsigned integers, got ${size}`);
    count *= size;
  }
  if (data.length !== count) throw new Error(`encodeIdx: dims ${dims.join(' × ')} hold ${count} values, data has ${data.length}`);
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((size, k) => view.setUint32(4 + 4 * k, size, false));
  out.set(data, header);
  return out;
}
