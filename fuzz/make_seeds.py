#!/usr/bin/python3
"""Writes the seed corpus of the libFuzzer targets into fuzz/corpus/<target>/seed-*.

Seeds are valid inputs made by the peers where they exist (numcodecs and zarr-python, Debian's
python3-numcodecs / python3-zarr) and by `volbatch import` for what they cannot write (N5 lz4
blocks, Zarr v3 arrays and shards), each prefixed with the selector bytes its target reads
(see the header comment of each fuzz/*_fuzz.cc). Inputs libFuzzer found (fuzz.sh --save) and
the reproducers of fixed defects live beside them under other names and are not touched.

    /usr/bin/python3 fuzz/make_seeds.py [--volbatch build/volbatch]
"""

import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

import numcodecs
import numpy as np
import zarr

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")

# volbatch's DataType enum order (src/volbatch/core/dtype.h).
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(bytes(data))


def clear_seeds(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def sample_arrays():
    """(name, array) pairs: smooth and noisy data of a few dtypes and sizes."""
    rng = np.random.default_rng(8)
    ramp = (np.arange(1000) // 7 % 13 * 3).astype(np.uint8)
    return [
        ("u8_smooth", ramp),
        ("u16_noise", rng.integers(0, 65535, 300).astype(np.uint16)),
        ("f32_noise", rng.standard_normal(64).astype(np.float32)),
        ("i64_ramp", np.arange(40, dtype=np.int64) * -3),
        ("u8_empty", np.zeros(0, np.uint8)),
    ]


def dtype_index(a):
    return DTYPES.index(str(a.dtype))


def codec_header(a, variant=0):
    n = a.size
    return bytes([dtype_index(a), variant, n & 255, n >> 8])


def bytes_codec_seeds():
    makers = {
        "gzip": [numcodecs.GZip(level=1)],
        "zlib": [numcodecs.Zlib(level=1)],
        "zstd": [numcodecs.Zstd(level=3)],
        "lz4": [numcodecs.LZ4(acceleration=1)],
        "bz2": [numcodecs.BZ2(level=1)],
        "xz": [numcodecs.LZMA()],
        "blosc": [numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
                  numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE),
                  numcodecs.Blosc("blosclz", 1, numcodecs.Blosc.NOSHUFFLE)],
    }
    for codec, variants in makers.items():
        target = codec + "_decode_fuzz"
        clear_seeds(target)
        for v, c in enumerate(variants):
            for name, a in sample_arrays():
                write(target, "%s_v%d_%s" % (codec, v, name), codec_header(a, v) + c.encode(a))
    target = "crc32c_decode_fuzz"
    clear_seeds(target)
    for name, a in sample_arrays():
        raw = a.tobytes()
        write(target, name, codec_header(a) + raw + struct.pack("<I", crc32c(raw)))
    target = "bytes_decode_fuzz"
    clear_seeds(target)
    for name, a in sample_arrays():
        write(target, "little_" + name, codec_header(a, 0) + a.astype(a.dtype.newbyteorder("<")).tobytes())
        write(target, "big_" + name, codec_header(a, 1) + a.astype(a.dtype.newbyteorder(">")).tobytes())
    target = "transpose_decode_fuzz"
    clear_seeds(target)
    for order, dims in [((0,), (5,)), ((1, 0), (3, 4)), ((2, 0, 1), (2, 3, 4)),
                        ((3, 1, 0, 2), (2, 2, 3, 1))]:
        n = int(np.prod(dims))
        head = bytes([dtype_index(np.zeros(1, np.uint16)), len(order) - 1]) + bytes(order) + \
            bytes(d - 1 for d in dims)
        write(target, "order_" + "".join(map(str, order)),
              head + np.arange(n, dtype=np.uint16).tobytes())


def make_shard(chunks, encode, at_end, crc, fill=None):
    """A sharding_indexed shard of the given inner chunk arrays (C order of the inner grid);
    chunks equal to `fill` everywhere are left out (empty index entries)."""
    body = b""
    entries = []
    for c in chunks:
        if fill is not None and np.all(c == fill):
            entries.append((2**64 - 1, 2**64 - 1))
            continue
        e = encode(c)
        entries.append((len(body), len(e)))
        body += e
    index = b"".join(struct.pack("<QQ", o, n) for o, n in entries)
    if crc:
        index += struct.pack("<I", crc32c(index))
    if at_end:
        return body + index
    shifted = b"".join(struct.pack("<QQ", o + len(index), n) if o != 2**64 - 1
                       else struct.pack("<QQ", o, n) for o, n in entries)
    if crc:
        shifted += struct.pack("<I", crc32c(shifted))
    return shifted + body


def inner_chunks(a, shape):
    out = []
    for i in range(0, a.shape[0], shape[0]):
        for j in range(0, a.shape[1], shape[1]):
            out.append(a[i:i + shape[0], j:j + shape[1]])
    return out


def sharding_seeds():
    target = "sharding_indexed_decode_fuzz"
    clear_seeds(target)
    fill_u16 = 0x5a5a  # the target's fill value: every byte 0x5a
    a = np.arange(64, dtype=np.uint16).reshape(8, 8)
    partly_fill = a.copy()
    partly_fill[:4, :4] = fill_u16
    le = lambda c: c.astype("<u2").tobytes()
    for name, arr in [("ramp", a), ("fill", partly_fill)]:
        head = lambda v: bytes([DTYPES.index("uint16"), v, 0, 0])
        write(target, "v0_" + name,
              head(0) + make_shard(inner_chunks(arr, (4, 4)), le, True, True, fill_u16))
        write(target, "v1_" + name,
              head(1) + make_shard(inner_chunks(arr, (4, 4)), le, False, True, fill_u16))
        gz = lambda c: gzip.compress(le(c), compresslevel=1)
        write(target, "v2_" + name,
              head(2) + make_shard(inner_chunks(arr, (2, 4)), gz, True, False, fill_u16))
        tr = lambda c: np.ascontiguousarray(c.T).astype(">u2").tobytes()
        write(target, "v3_" + name,
              head(3) + make_shard(inner_chunks(arr, (4, 2)), tr, True, True, fill_u16))

    target = "shard_read_fuzz"
    clear_seeds(target)
    a = (np.arange(64, dtype=np.uint16) * 3).reshape(8, 8)
    a[4:, :4] = 7  # the array's fill value: that inner chunk is not stored
    for variant in range(4):
        encode = (lambda c: gzip.compress(le(c), compresslevel=1)) if variant & 1 else le
        shard = make_shard(inner_chunks(a, (4, 4)), encode, not variant & 2, not variant & 2, 7)
        for unit, region in [(0, (0, 0, 7, 7)), (12, (2, 3, 3, 1)), (0, (5, 0, 1, 7))]:
            write(target, "v%d_u%d_r%s" % (variant, unit, "".join(map(str, region))),
                  bytes([variant | unit]) + bytes(region) + shard)

    target = "shard_index_fuzz"
    clear_seeds(target)
    for variant in [0, 1, 2, 4, 8, 12, 9]:
        index_codecs, at_end, known = variant % 3, (variant >> 2) & 1, (variant >> 3) & 1
        grid = (2, 3)
        n = grid[0] * grid[1]
        index_size = 16 * n + (4 if index_codecs != 1 else 0)
        data_start = 0 if at_end else index_size
        entries = [(data_start + 10 * i, 10) if i % 4 else (2**64 - 1, 2**64 - 1)
                   for i in range(n)]
        fmt = ">QQ" if index_codecs == 2 else "<QQ"
        index = b"".join(struct.pack(fmt, o, s) for o, s in entries)
        if index_codecs != 1:
            index += struct.pack("<I", crc32c(index))
        extra = 10 * n
        head = bytes([variant, 1, grid[0] - 1, grid[1] - 1, extra & 255, extra >> 8])
        write(target, "variant_%d" % variant, head + index)


N5_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32",
             "float64"]


def n5_block(dims_c, payload):
    head = struct.pack(">HH", 0, len(dims_c)) + b"".join(struct.pack(">I", d)
                                                          for d in reversed(dims_c))
    return head + payload


def n5_seeds(volbatch):
    target = "n5_block_header_fuzz"
    clear_seeds(target)
    compressions = [lambda b: b, lambda b: gzip.compress(b, 1), lambda b: zlib.compress(b, 1),
                    None, lambda b: numcodecs.Zstd(3).encode(b)]
    for rank in (1, 2, 3):
        for unit in (0, 7):
            dims = []
            for i in range(rank):
                edge = (unit >> i) & 1 and [10, 7, 5][i] % 4
                dims.append(([10, 7, 5][i] % 4 if edge else 4))
            n = int(np.prod(dims))
            for dt in (1, 8):
                a = np.arange(n).astype(np.dtype(N5_DTYPES[dt]).newbyteorder(">"))
                for ci, comp in enumerate(compressions):
                    if comp is None:
                        continue
                    write(target, "r%d_u%d_%s_c%d" % (rank, unit, N5_DTYPES[dt], ci),
                          bytes([rank, dt, ci, unit]) + n5_block(dims, comp(a.tobytes())))
    # varlength mode
    write(target, "varlength", bytes([1, 0, 0, 0]) + struct.pack(">HHII", 1, 1, 4, 4) +
          b"\x01\x02\x03\x04")

    target = "n5_metadata_fuzz"
    clear_seeds(target)
    base = {"dimensions": [100, 80, 60], "blockSize": [16, 16, 8], "dataType": "uint16"}
    comps = [{"type": "raw"}, {"type": "gzip", "level": -1}, {"type": "gzip", "useZlib": True},
             {"type": "bzip2", "blockSize": 9}, {"type": "xz", "preset": 6},
             {"type": "lz4", "blockSize": 65536}, {"type": "zstd", "level": 3},
             {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0,
              "nthreads": 1}]
    for c in comps:
        write(target, "compression_" + c["type"] + ("_zlib" if c.get("useZlib") else ""),
              json.dumps(dict(base, compression=c)).encode())
    write(target, "legacy_compressionType",
          json.dumps({"dimensions": [5], "blockSize": [2], "dataType": "float64",
                      "compressionType": "gzip"}).encode())
    write(target, "attrs_and_group", json.dumps(dict(base, n5="2.5.0", resolution=[1, 1, 4],
                                                     dataType="float32")).encode())
    # zarr-python's own N5 writer.
    with tempfile.TemporaryDirectory() as tmp:
        store = zarr.N5Store(os.path.join(tmp, "a.n5"))
        for i, (dt, comp) in enumerate([("int8", numcodecs.GZip(5)), ("uint64", None),
                                        ("float64", numcodecs.BZ2(1))]):
            zarr.create(shape=(7, 9), chunks=(3, 4), dtype=dt, compressor=comp, store=store,
                        path="a%d" % i)
            with open(os.path.join(tmp, "a.n5", "a%d" % i, "attributes.json"), "rb") as f:
                write(target, "zarr_python_%d" % i, f.read())

    if volbatch:
        # N5 lz4 blocks: lz4-java framing, which no Python peer here writes.
        with tempfile.TemporaryDirectory() as tmp:
            a = (np.arange(3 * 8 * 8) % 50).astype(np.uint16).reshape(3, 8, 8)
            np.save(os.path.join(tmp, "a.npy"), a)
            dst = os.path.join(tmp, "a.n5")
            subprocess.run([volbatch, "import", os.path.join(tmp, "a.npy"), dst, "--chunks",
                            "4,4,4", "--codec", "lz4"], check=True, capture_output=True)
            with open(os.path.join(dst, "0", "0", "0"), "rb") as f:
                block = f.read()
            write(target, "volbatch_lz4", open(os.path.join(dst, "attributes.json"), "rb").read())
            payload = block[4 + 4 * 3:]
            clear_seeds("n5_lz4_decode_fuzz")
            # the block is 4x4x3 (edge along z) uint16
            write("n5_lz4_decode_fuzz", "volbatch_block",
                  bytes([DTYPES.index("uint16"), 0, 48, 0]) + payload)
            # as a rank-3 block of the n5 target's lz4 driver: dims 10,7,5 blocks of 4, uint16
            write("n5_block_header_fuzz", "volbatch_lz4", bytes([3, 1, 3, 4]) + block)


def zarr2_seeds():
    target = "zarr2_metadata_fuzz"
    clear_seeds(target)
    configs = [
        dict(dtype="<u2", compressor=numcodecs.Blosc("lz4", 5, 1)),
        dict(dtype=">i4", compressor=numcodecs.GZip(1), order="F"),
        dict(dtype="<f8", compressor=numcodecs.Zstd(3), fill_value=float("nan")),
        dict(dtype="|b1", compressor=None, fill_value=True),
        dict(dtype="<f2", compressor=numcodecs.LZMA()),
        dict(dtype="|u1", compressor=numcodecs.BZ2(1), dimension_separator="/"),
        dict(dtype="<f4", compressor=numcodecs.Zlib(1),
             filters=[numcodecs.Delta(dtype="<f4"), numcodecs.Shuffle(elementsize=4)]),
        dict(dtype="<f8", compressor=numcodecs.LZ4(),
             filters=[numcodecs.FixedScaleOffset(offset=1, scale=10, dtype="<f8",
                                                 astype="<i4")]),
        dict(dtype="<f4", compressor=None, filters=[numcodecs.Quantize(2, dtype="<f4")]),
        dict(dtype="<i8", compressor=numcodecs.Zlib(1), filters=[numcodecs.AsType("<i4", "<i8")]),
        dict(dtype="<u4", compressor=numcodecs.Zlib(1), filters=[numcodecs.CRC32()]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(configs):
            path = os.path.join(tmp, "a%d.zarr" % i)
            store = zarr.DirectoryStore(path, **({"dimension_separator": c.pop(
                "dimension_separator")} if "dimension_separator" in c else {}))
            zarr.create(shape=(20, 30), chunks=(8, 16), store=store, **c)
            with open(os.path.join(path, ".zarray"), "rb") as f:
                write(target, "zarr_python_%d" % i, f.read())


def zarr3_seeds(volbatch):
    target = "zarr3_metadata_fuzz"
    clear_seeds(target)
    bytes_le = {"name": "bytes", "configuration": {"endian": "little"}}
    base = {"zarr_format": 3, "node_type": "array", "shape": [100, 80], "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [16, 32]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0, "codecs": [bytes_le], "attributes": {}}
    docs = {
        "plain": base,
        "gzip_v2keys": dict(base, codecs=[bytes_le, {"name": "gzip", "configuration":
                                                     {"level": 5}}],
                            chunk_key_encoding={"name": "v2", "configuration":
                                                {"separator": "."}}),
        "transpose_big_nan": dict(base, data_type="float32", fill_value="NaN", codecs=[
            {"name": "transpose", "configuration": {"order": [1, 0]}},
            {"name": "bytes", "configuration": {"endian": "big"}},
            {"name": "zstd", "configuration": {"level": 3, "checksum": True}}]),
        "sharded": dict(base, chunk_grid={"name": "regular", "configuration":
                                          {"chunk_shape": [32, 32]}},
                        codecs=[{"name": "sharding_indexed", "configuration": {
                            "chunk_shape": [8, 16], "codecs": [bytes_le, {"name": "blosc",
                                "configuration": {"cname": "lz4", "clevel": 5,
                                                  "shuffle": "shuffle", "typesize": 2,
                                                  "blocksize": 0}}],
                            "index_codecs": [bytes_le, {"name": "crc32c"}],
                            "index_location": "start"}}]),
        "bool": dict(base, data_type="bool", fill_value=False),
        "float16_inf": dict(base, data_type="float16", fill_value="-Infinity",
                            dimension_names=["y", "x"]),
        "int64_rank1": dict(base, shape=[1000], data_type="int64", fill_value=-1,
                            chunk_grid={"name": "regular", "configuration":
                                        {"chunk_shape": [100]}},
                            codecs=[bytes_le, {"name": "crc32c"}]),
        "float64_hex_fill": dict(base, data_type="float64", fill_value="0x7ff8000000000001"),
    }
    for name, doc in docs.items():
        write(target, name, json.dumps(doc, indent=2).encode())
    if volbatch:
        with tempfile.TemporaryDirectory() as tmp:
            np.save(os.path.join(tmp, "a.npy"), np.arange(24 * 20, dtype=np.int16).reshape(24, 20))
            dst = os.path.join(tmp, "a.zarr")
            subprocess.run([volbatch, "import", os.path.join(tmp, "a.npy"), dst, "--format",
                            "zarr3", "--chunks", "4,5", "--shards", "8,10", "--codec", "zstd:3"],
                           check=True, capture_output=True)
            write(target, "volbatch_sharded", open(os.path.join(dst, "zarr.json"), "rb").read())


def key_seeds():
    target = "key_path_fuzz"
    clear_seeds(target)
    for name, key in [("plain", b"0/1/2"), ("meta", b"zarr.json"), ("dots", b"a/.zarray"),
                      ("sub", b"raw/s0\n0/0/0"), ("sub_slash", b"raw/\nc/1/2"),
                      ("dotdot", b"a/../../etc/passwd"), ("abs", b"/etc/passwd"),
                      ("backslash", b"a\\..\\b"), ("dotdot_sub", b"..\nx"),
                      ("long", b"a/" * 100 + b"b"), ("dotted", b"...../.a./a..")]:
        write(target, name, key)


def roundtrip_seeds():
    target = "roundtrip_fuzz"
    clear_seeds(target)
    # [dtype][rank][dims][transpose?(+perm)][a->b selector...] as roundtrip_fuzz.cc reads.
    write(target, "u8_plain", bytes([5, 0, 15, 0, 1, 0, 0, 7]) + b"hello world")
    write(target, "f32_gzip_crc", bytes([10, 1, 7, 5, 0, 1, 0, 2, 0, 11, 9]) +
          np.linspace(0, 1, 40, dtype=np.float32).tobytes())
    write(target, "i16_transpose_shard", bytes([2, 2, 3, 5, 7, 1, 1, 1, 0, 1, 2, 3, 1, 1, 2, 1,
                                                0, 1, 0, 2, 1, 0]) + bytes(range(1, 200)))
    write(target, "bool_blosc", bytes([0, 0, 15, 0, 1, 1, 8, 1]) + bytes(range(64)))


def hdf5_attribute_seeds():
    """CREMI's attributes as libhdf5 hands them over (fuzz/hdf5_attribute_fuzz.cc's layout)."""
    target = "hdf5_attribute_fuzz"
    clear_seeds(target)

    def seed(name, kind, size, big, dims, payload):
        head = bytes([kind]) + struct.pack("<H", size) + bytes([big, len(dims)])
        write(target, name, head + b"".join(struct.pack("<H", d) for d in dims) + payload)

    seed("resolution_f8be", 2, 8, 1, [3], struct.pack(">3d", 40.0, 4.0, 4.0))
    seed("offset_i4le", 0, 4, 0, [3], struct.pack("<3i", 0, -8, 16))
    seed("u2_2d", 1, 2, 0, [2, 2], struct.pack("<4H", 1, 2, 3, 65535))
    seed("fixed_string", 3, 4, 0, [2], b"nm\0\0um  ")
    seed("strings", 4, 0, 0, [2], b"z\0yx\0")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--volbatch", default=os.path.join(ROOT, "..", "build", "volbatch"),
                   help="the volbatch CLI, for N5 lz4 and Zarr v3 seeds (skipped if missing)")
    args = p.parse_args()
    volbatch = args.volbatch if os.path.exists(args.volbatch) else None
    if not volbatch:
        print("make_seeds: no %s: skipping the N5 lz4 and volbatch Zarr v3 seeds" % args.volbatch)
    bytes_codec_seeds()
    sharding_seeds()
    n5_seeds(volbatch)
    zarr2_seeds()
    zarr3_seeds(volbatch)
    key_seeds()
    roundtrip_seeds()
    hdf5_attribute_seeds()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print("make_seeds: corpus is %d files, %d bytes" %
          (sum(len(fs) for _, _, fs in os.walk(CORPUS)), total))


if __name__ == "__main__":
    main()
