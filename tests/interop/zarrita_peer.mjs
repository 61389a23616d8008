// The Zarr v3 peer for the interop tests: zarrita (npm) writes and reads arrays on request.
//
//   node zarrita_peer.mjs JOBS.json     (results go to JOBS.json.out, one entry per job)
//
// A job is {"op": "write", "path", "shape", "dtype", "chunk_shape", "codecs", "fill_value",
// "data" (raw C-order little-endian bytes), "region" (optional [[begin, end], ...]: the data
// covers only this box)} or {"op": "read", "path", "out"}: read the whole array, write its
// raw C-order little-endian bytes to "out" and its metadata next to it ("out".json).
// Jobs run in one process because starting node costs more than most jobs.
import * as fs from "node:fs";
import FileSystemStore from "@zarrita/storage/fs";
import * as zarr from "zarrita";

const TYPED = {
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  float32: Float32Array, float64: Float64Array,
};

function cStrides(shape) {
  const stride = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) stride[i] = stride[i + 1] * shape[i + 1];
  return stride;
}

function typedFromBytes(dtype, bytes) {
  // Copy into a fresh, aligned buffer.
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  if (dtype === "bool") return new zarr.BoolArray(buf);
  const T = TYPED[dtype];
  if (!T) throw new Error(`zarrita_peer: unsupported dtype ${dtype}`);
  return new T(buf);
}

// The chunk's elements as C-order bytes, whatever strides zarrita chose.
function toCOrderBytes(chunk) {
  const data = chunk.data;
  const bpe = data.BYTES_PER_ELEMENT;
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const shape = chunk.shape;
  const want = cStrides(shape);
  if (shape.length === 0 || want.every((s, i) => s === chunk.stride[i] || shape[i] <= 1)) {
    return Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const out = Buffer.alloc(n * bpe);
  const idx = new Array(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let i = 0; i < shape.length; i++) off += idx[i] * chunk.stride[i];
    out.set(src.subarray(off * bpe, off * bpe + bpe), k * bpe);
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

async function write(job) {
  const store = new FileSystemStore(job.path);
  const arr = await zarr.create(zarr.root(store), {
    shape: job.shape,
    dtype: job.dtype,
    chunkShape: job.chunk_shape,
    codecs: job.codecs,
    fillValue: job.fill_value,
    chunkSeparator: job.separator ?? "/",
  });
  const region = job.region ?? job.shape.map((s) => [0, s]);
  const shape = region.map(([b, e]) => e - b);
  const data = typedFromBytes(job.dtype, fs.readFileSync(job.data));
  const selection = region.map(([b, e]) => zarr.slice(b, e));
  await zarr.set(arr, selection, { data, shape, stride: cStrides(shape) });
}

async function read(job) {
  const store = new FileSystemStore(job.path);
  const arr = await zarr.open(zarr.root(store), { kind: "array" });
  const chunk = await zarr.get(arr, null);
  fs.writeFileSync(job.out, toCOrderBytes(chunk));
  fs.writeFileSync(job.out + ".json", JSON.stringify({ shape: arr.shape, dtype: arr.dtype }));
}

const jobsFile = process.argv[2];
const jobs = JSON.parse(fs.readFileSync(jobsFile, "utf8"));
const results = [];
for (const job of jobs) {
  try {
    if (job.op === "write") await write(job);
    else if (job.op === "read") await read(job);
    else throw new Error(`unknown op ${job.op}`);
    results.push({ ok: true });
  } catch (e) {
    const cause = e && e.cause ? ` (cause: ${e.cause})` : "";
    results.push({ ok: false, error: `${e}${cause}` });
  }
}
fs.writeFileSync(jobsFile + ".out", JSON.stringify(results));
