#!/usr/bin/python3
"""Generates the hostile-input corpus (issue 8): one small dataset per case, each a valid dataset
written by the volbatch CLI (or zarr-python) with one thing corrupted, plus manifest.json.

    scripts/hostile_corpus.py OUTDIR [--volbatch build/volbatch]

Every manifest entry:
    id           unique name, also the case's directory under OUTDIR/cases/
    category     truncation | bitflip | n5_header | zstd_size | blosc_header | bomb | shard_index |
                 overflow | chunk_size | rank | json_type | key | symlink | file_kind | job
    path         the dataset, relative to OUTDIR (the path given to info / export / the job)
    description  what was done
    commands     which of "info", "export", "run" apply (info reads metadata only)
    expect       "error": exit 1 with a typed one-line message; "error_or_ok": the corruption may
                 be undetectable (a flipped data bit), so success is allowed, but a failure must
                 still be a typed one-line error
    words        what the message must contain: the chunk key, the JSON field, the file
    job_input    (job cases only) the [input] path to write into the job file, raw (may hold NUL)
    xfail        (optional) why the case still fails: a known defect outside the fixed layers
"""
import argparse
import bz2
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

SHAPE = (16, 16, 16)
CHUNKS = (8, 8, 8)
DTYPE = np.uint16
CODECS = {  # name -> volbatch SPEC
    "raw": "raw", "gzip": "gzip:6", "zstd": "zstd:3", "lz4": "lz4",
    "blosc": "blosc:lz4:5:shuffle", "bz2": "bz2:9", "xz": "xz:6",
}
FORMATS = {"n5": ".n5", "zarr2": ".zarr", "zarr3": ".zarr"}
# The key of chunk (0, 0, 0) and of chunk (1, 0, 0) (z = 1; N5 stores x first).
KEY0 = {"n5": "0/0/0", "zarr2": "0/0/0", "zarr3": "c/0/0/0", "zarr3s": "c/0/0/0",
        "zarr2py": "0.0.0"}
KEY1 = {"n5": "0/0/1", "zarr2": "1/0/0", "zarr3": "c/1/0/0"}
META = {"n5": "attributes.json", "zarr2": ".zarray", "zarr3": "zarr.json", "zarr3s": "zarr.json"}
BIG = 1 << 62


# ---- crc32c (Castagnoli), for shard indexes --------------------------------------------------

def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- hostile payloads --------------------------------------------------------------------------

def zstd_frame_claiming(content_size, payload):
    """A zstd frame whose header declares `content_size` bytes (single segment), holding one raw
    block with `payload`."""
    hdr = struct.pack("<IB", 0xFD2FB528, 0xE0) + struct.pack("<Q", content_size)
    block = ((len(payload) << 3) | 1).to_bytes(3, "little")  # last block, raw
    return hdr + block + payload


def zstd_bomb(total):
    """A zstd frame without a content size, of RLE blocks (4 bytes per 128 KiB) decoding to
    `total` zero bytes."""
    out = bytearray(struct.pack("<IBB", 0xFD2FB528, 0x00, 7 << 3))  # window 128 KiB
    n = total // (128 << 10)
    rle = (((128 << 10) << 3) | (1 << 1)).to_bytes(3, "little") + b"\0"
    last = (((128 << 10) << 3) | (1 << 1) | 1).to_bytes(3, "little") + b"\0"
    out += rle * (n - 1) + last
    return bytes(out)


def _stream_bomb(comp, total, piece=16 << 20):
    zeros = bytes(piece)
    out = [comp.compress(zeros) for _ in range(total // piece)]
    out.append(comp.flush())
    return b"".join(out)


def gzip_bomb(total):
    return _stream_bomb(zlib.compressobj(9, zlib.DEFLATED, 31), total)


def zlib_bomb(total):
    return _stream_bomb(zlib.compressobj(9, zlib.DEFLATED, 15), total)


def bz2_bomb(total):
    return _stream_bomb(bz2.BZ2Compressor(9), total)


def xz_bomb(total):
    return _stream_bomb(lzma.LZMACompressor(format=lzma.FORMAT_XZ), total)


# ---- the generator -------------------------------------------------------------------------

class Corpus:
    def __init__(self, out, volbatch):
        self.out = os.path.abspath(out)
        self.volbatch = volbatch
        self.cases = []
        self.bases = {}
        if os.path.exists(self.out):
            shutil.rmtree(self.out)
        os.makedirs(os.path.join(self.out, "_base"))
        os.makedirs(os.path.join(self.out, "cases"))
        a = (np.arange(np.prod(SHAPE)) * 2654435761 % 65521).astype(DTYPE).reshape(SHAPE)
        a[:, :4] = 7  # some compressible structure
        self.npy = os.path.join(self.out, "_base", "a.npy")
        np.save(self.npy, a)
        self.array = a

    # A valid dataset, built once per (format, codec) and copied per case.
    def base(self, fmt, codec):
        key = (fmt, codec)
        if key in self.bases:
            return self.bases[key]
        if fmt == "zarr2py":
            import numcodecs
            import zarr
            comp = {"raw": None, "zstd": numcodecs.Zstd(level=3), "gzip": numcodecs.GZip(level=6),
                    "blosc": numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
                    "lz4": numcodecs.LZ4(), "bz2": numcodecs.BZ2(9), "xz": numcodecs.LZMA()}[codec]
            path = os.path.join(self.out, "_base", f"{fmt}_{codec}.zarr", "arr")
            z = zarr.open_array(path, mode="w", shape=SHAPE, chunks=CHUNKS, dtype=DTYPE,
                                compressor=comp)
            z[...] = self.array
        else:
            ext = ".n5" if fmt == "n5" else ".zarr"
            path = os.path.join(self.out, "_base", f"{fmt}_{codec}{ext}", "arr")
            args = [self.volbatch, "import", self.npy, path, "--chunks", ",".join(map(str, CHUNKS)),
                    "--codec", CODECS[codec], "--format", "zarr3" if fmt == "zarr3s" else fmt]
            if fmt == "zarr3s":
                args += ["--shards", ",".join(map(str, SHAPE))]
            subprocess.run(args, check=True, capture_output=True)
        self.bases[key] = path
        return path

    def case(self, category, name, fmt, codec, description, commands, words, expect="error"):
        """Copies the base dataset into cases/<id>/ and returns (case dict, dataset dir)."""
        cid = f"{category}-{name}"
        assert not any(c["id"] == cid for c in self.cases), cid
        src = self.base(fmt, codec)
        container = os.path.dirname(src)
        dst_container = os.path.join(self.out, "cases", cid, os.path.basename(container))
        shutil.copytree(container, dst_container, symlinks=True)
        path = os.path.join(dst_container, "arr")
        c = {"id": cid, "category": category, "format": fmt, "codec": codec,
             "path": os.path.relpath(path, self.out), "description": description,
             "commands": list(commands), "expect": expect, "words": list(words)}
        self.cases.append(c)
        return c, path

    # -- chunk bytes ----------------------------------------------------------------------
    def chunk_cases(self):
        fmts = ["n5", "zarr2", "zarr3"]
        for fmt in fmts:
            for codec in CODECS:
                data = open(os.path.join(self.base(fmt, codec), KEY0[fmt]), "rb").read()
                n = len(data)
                offsets = sorted({o for o in (0, 1, 4, 8, 16, 20, n // 2, n - 1)
                                  if 0 <= o < n})
                for off in offsets:
                    _, p = self.case("truncation", f"{fmt}-{codec}-at{off}", fmt, codec,
                                     f"chunk {KEY0[fmt]} ({n} bytes) truncated to {off} bytes",
                                     ["export", "run"], [KEY0[fmt]])
                    with open(os.path.join(p, KEY0[fmt]), "r+b") as f:
                        f.truncate(off)
                # Bit flips: the header bytes and the middle; a flipped payload bit may decode.
                for pos, bit in ((0, 0), (3, 7), (9, 4), (n // 2, 5), (n - 1, 0)):
                    if pos >= n:
                        continue
                    _, p = self.case("bitflip", f"{fmt}-{codec}-byte{pos}-bit{bit}", fmt, codec,
                                     f"chunk {KEY0[fmt]}: bit {bit} of byte {pos} flipped",
                                     ["export", "run"], [KEY0[fmt]], expect="error_or_ok")
                    b = bytearray(data)
                    b[pos] ^= 1 << bit
                    open(os.path.join(p, KEY0[fmt]), "wb").write(bytes(b))
        # Chunks written by zarr-python ("." separator).
        for codec in ("zstd", "blosc", "gzip", "lz4"):
            data = open(os.path.join(self.base("zarr2py", codec), "0.0.0"), "rb").read()
            for off in (0, 5, len(data) // 2, len(data) - 1):
                _, p = self.case("truncation", f"zarr2py-{codec}-at{off}", "zarr2py", codec,
                                 f"zarr-python chunk 0.0.0 truncated to {off} bytes",
                                 ["export", "run"], ["0.0.0"])
                with open(os.path.join(p, "0.0.0"), "r+b") as f:
                    f.truncate(off)
        # A chunk too long: valid bytes followed by garbage; an oversize sparse file.
        for fmt in fmts:
            _, p = self.case("truncation", f"{fmt}-raw-trailing", fmt, "raw",
                             f"chunk {KEY0[fmt]} with 100 trailing bytes", ["export", "run"],
                             [KEY0[fmt]])
            with open(os.path.join(p, KEY0[fmt]), "ab") as f:
                f.write(b"\x55" * 100)
            for codec in ("raw", "zstd"):
                _, p = self.case("bomb", f"{fmt}-{codec}-sparse-1TiB", fmt, codec,
                                 f"chunk {KEY0[fmt]} is a sparse file of 1 TiB",
                                 ["export", "run"], [KEY0[fmt]])
                with open(os.path.join(p, KEY0[fmt]), "r+b") as f:
                    f.truncate(1 << 40)

    # -- N5 block headers -------------------------------------------------------------------
    def n5_header_cases(self):
        def hdr(mode, dims, extra=b""):
            return struct.pack(">HH", mode, len(dims)) + b"".join(
                struct.pack(">I", d) for d in dims) + extra
        for codec in ("raw", "gzip", "zstd"):
            data = open(os.path.join(self.base("n5", codec), "0/0/0"), "rb").read()
            body = data[4 + 4 * 3:]
            variants = {
                "ndim0": hdr(0, []) + body,
                "ndim2": hdr(0, [8, 8]) + body,
                "ndim4": hdr(0, [8, 8, 8, 1]) + body,
                "ndim65535": struct.pack(">HH", 0, 65535) + body,
                "dims-max": hdr(0, [0xFFFFFFFF] * 3) + body,
                "dims-2^16": hdr(0, [65536] * 3) + body,
                "dims-2^31": hdr(0, [1 << 31, 1, 1]) + body,
                "dims-larger-than-block": hdr(0, [8, 8, 9]) + body,
                "dims-zero": hdr(0, [0, 8, 8]) + body,
                "mode1-huge-count": hdr(1, [8, 8, 8], struct.pack(">I", 0xFFFFFFFF)) + body,
                "mode1-count-2^30": hdr(1, [8, 8, 8], struct.pack(">I", 1 << 30)) + body,
                "mode2": hdr(2, [8, 8, 8]) + body,
                "mode-ffff": hdr(0xFFFF, [8, 8, 8]) + body,
                "header-only": hdr(0, [8, 8, 8]),
                "dims-only-partial": hdr(0, [8, 8, 8])[:9],
            }
            for name, b in variants.items():
                _, p = self.case("n5_header", f"{codec}-{name}", "n5", codec,
                                 f"N5 block 0/0/0 header: {name}", ["export", "run"], ["0/0/0"])
                open(os.path.join(p, "0/0/0"), "wb").write(b)

    # -- zstd frames declaring huge sizes; lying sizes of other codecs ------------------------
    def codec_size_cases(self):
        n5hdr = struct.pack(">HHIII", 0, 3, 8, 8, 8)
        payload = bytes(1024)
        for fmt in ("n5", "zarr2", "zarr3"):
            pre = n5hdr if fmt == "n5" else b""
            for name, size in (("1TiB", 1 << 40), ("2^63", 1 << 63), ("max", (1 << 64) - 1),
                               ("1GiB", 1 << 30), ("short", 100)):
                _, p = self.case("zstd_size", f"{fmt}-{name}", fmt, "zstd",
                                 f"chunk {KEY0[fmt]}: a zstd frame declaring {size} bytes",
                                 ["export", "run"], [KEY0[fmt]])
                open(os.path.join(p, KEY0[fmt]), "wb").write(pre + zstd_frame_claiming(size,
                                                                                       payload))
            # numcodecs LZ4 framing: a 4-byte little-endian size, then one LZ4 block.
            if fmt != "n5":
                for name, size in (("max", 0x7FFFFFFF), ("neg", 0xFFFFFFFF), ("zero", 0)):
                    _, p = self.case("lz4_size", f"{fmt}-{name}", fmt, "lz4",
                                     f"chunk {KEY0[fmt]}: LZ4 size prefix says {size}",
                                     ["export", "run"], [KEY0[fmt]])
                    f = os.path.join(p, KEY0[fmt])
                    d = open(f, "rb").read()
                    open(f, "wb").write(struct.pack("<I", size) + d[4:])
        # Blosc headers: version, versionlz, flags, typesize, nbytes, blocksize, cbytes.
        for fmt in ("zarr2", "n5", "zarr3"):
            f0 = os.path.join(self.base(fmt, "blosc"), KEY0[fmt])
            data = open(f0, "rb").read()
            off = 16 if fmt == "n5" else 0
            ver, verlz, flags, ts, nbytes, bsize, cbytes = struct.unpack_from("<BBBBIII", data, off)
            variants = {
                "nbytes-max": dict(nbytes=0xFFFFFFFF),
                "nbytes-2^31": dict(nbytes=1 << 31),
                "nbytes-small": dict(nbytes=nbytes // 2),
                "nbytes-zero": dict(nbytes=0),
                "blocksize-zero": dict(bsize=0),
                "blocksize-one": dict(bsize=1),
                "blocksize-max": dict(bsize=0xFFFFFFFF),
                "cbytes-max": dict(cbytes=0xFFFFFFFF),
                "cbytes-small": dict(cbytes=8),
                "cbytes-long": dict(cbytes=cbytes + 1000),
                "typesize-zero": dict(ts=0),
                "typesize-255": dict(ts=255),
                "version-99": dict(ver=99),
                "memcpy-flag-lying": dict(flags=flags | 0x02),
                "flags-ff": dict(flags=0xFF),
            }
            for name, ch in variants.items():
                v = dict(ver=ver, verlz=verlz, flags=flags, ts=ts, nbytes=nbytes, bsize=bsize,
                         cbytes=cbytes)
                v.update(ch)
                _, p = self.case("blosc_header", f"{fmt}-{name}", fmt, "blosc",
                                 f"chunk {KEY0[fmt]}: blosc header {ch}", ["export", "run"],
                                 [KEY0[fmt]])
                b = bytearray(data)
                struct.pack_into("<BBBBIII", b, off, v["ver"], v["verlz"], v["flags"], v["ts"],
                                 v["nbytes"], v["bsize"], v["cbytes"])
                open(os.path.join(p, KEY0[fmt]), "wb").write(bytes(b))

    # -- decompression bombs -----------------------------------------------------------------
    def bomb_cases(self):
        big = 3 << 29  # 1.5 GiB of zeros: past the 1 GiB address-space cap if fully inflated
        bombs = {"gzip": gzip_bomb(big), "zstd": zstd_bomb(big), "bz2": bz2_bomb(256 << 20),
                 "xz": xz_bomb(256 << 20)}
        n5hdr = struct.pack(">HHIII", 0, 3, 8, 8, 8)
        for codec, b in bombs.items():
            for fmt in ("n5", "zarr2", "zarr3"):
                _, p = self.case("bomb", f"{fmt}-{codec}", fmt, codec,
                                 f"chunk {KEY0[fmt]}: {len(b)} bytes of {codec} inflating to "
                                 f"far more than a chunk", ["export", "run"], [KEY0[fmt]])
                open(os.path.join(p, KEY0[fmt]), "wb").write((n5hdr if fmt == "n5" else b"") + b)
            if codec == "gzip":  # inside a shard, too
                self.shard_chunk_replaced(f"{codec}-in-shard", "gzip", b)

    # -- sharded Zarr v3 ---------------------------------------------------------------------
    def shard_chunk_replaced(self, name, codec, blob):
        c, p = self.case("bomb", f"zarr3s-{name}", "zarr3s", codec,
                         f"shard c/0/0/0: inner chunk 0 replaced by {len(blob)} bytes",
                         ["export", "run"], ["c/0/0/0"])
        f = os.path.join(p, "c/0/0/0")
        d = open(f, "rb").read()
        n = 8
        idx = list(struct.unpack_from(f"<{2 * n}Q", d, len(d) - 16 * n - 4))
        chunks = [d[idx[2 * i]:idx[2 * i] + idx[2 * i + 1]] for i in range(n)]
        chunks[0] = blob
        out = bytearray()
        for i, ch in enumerate(chunks):
            idx[2 * i], idx[2 * i + 1] = len(out), len(ch)
            out += ch
        ib = struct.pack(f"<{2 * n}Q", *idx)
        open(f, "wb").write(bytes(out) + ib + struct.pack("<I", crc32c(ib)))

    def shard_cases(self):
        n = 8
        for codec in ("raw", "zstd", "gzip"):
            f0 = os.path.join(self.base("zarr3s", codec), "c/0/0/0")
            data = open(f0, "rb").read()
            L = len(data)
            ipos = L - 16 * n - 4
            idx = list(struct.unpack_from(f"<{2 * n}Q", data, ipos))

            def with_index(entries, fix_crc=True, data=data):
                ib = struct.pack(f"<{2 * n}Q", *entries)
                crc = crc32c(ib) if fix_crc else crc32c(ib) ^ 1
                return data[:ipos] + ib + struct.pack("<I", crc)

            M = (1 << 64) - 1
            variants = {}
            for e, (o, nb) in {"offset-max": (M - 1, 2), "overflow": (1 << 63, 1 << 63),
                               "overflow-2": (M - 10, 20), "offset-past-end": (L + 10, 10),
                               "offset-far": (1 << 40, 16), "length-huge": (0, 1 << 62),
                               "length-past-end": (0, L + 1), "into-index": (ipos, 64),
                               "length-zero": (0, 0), "half-empty-marker": (M, 0),
                               "length-max": (0, M)}.items():
                ent = list(idx)
                ent[0], ent[1] = o, nb
                variants[e] = with_index(ent)
            for e, ent in {"all-max-offsets": [M - 1, 1] * n,
                           "all-overlapping": [0, L] * n}.items():
                variants[e] = with_index(ent)
            variants["bad-crc"] = with_index(idx, fix_crc=False)
            for off in (0, 1, 4, 16 * n + 3, L - 1, L // 2):
                variants[f"truncated-at{off}"] = data[:off]
            for name, b in variants.items():
                expect = "error_or_ok" if name in ("length-zero", "half-empty-marker",
                                                   "into-index") else "error"
                _, p = self.case("shard_index", f"{codec}-{name}", "zarr3s", codec,
                                 f"shard c/0/0/0 index: {name}", ["export", "run"], ["c/0/0/0"],
                                 expect=expect)
                open(os.path.join(p, "c/0/0/0"), "wb").write(b)
            # A bit flip inside an inner chunk (the index is intact).
            _, p = self.case("shard_index", f"{codec}-inner-bitflip", "zarr3s", codec,
                             "shard c/0/0/0: a bit of inner chunk 0 flipped", ["export", "run"],
                             ["c/0/0/0"], expect="error_or_ok")
            b = bytearray(data)
            b[idx[0] + idx[1] // 2] ^= 0x10
            open(os.path.join(p, "c/0/0/0"), "wb").write(bytes(b))
        self.shard_chunk_replaced("zstd-1TiB-frame", "zstd",
                                  zstd_frame_claiming(1 << 40, bytes(1024)))

    # -- metadata ------------------------------------------------------------------------------
    def meta_case(self, category, name, fmt, codec, edit, words, description, expect="error",
                  commands=("info", "export", "run")):
        c, p = self.case(category, f"{fmt}-{name}", fmt, codec, description, commands, words,
                         expect)
        f = os.path.join(p, META[fmt])
        meta = json.load(open(f))
        new = edit(meta)
        if isinstance(new, (bytes, str)):
            open(f, "wb").write(new if isinstance(new, bytes) else new.encode())
        else:
            json.dump(meta if new is None else new, open(f, "w"))

    @staticmethod
    def setter(path, value):
        def edit(m):
            o = m
            for k in path[:-1]:
                o = o[k]
            if value is DELETE:
                del o[path[-1]]
            else:
                o[path[-1]] = value
        return edit

    def metadata_cases(self):
        S = self.setter
        fields = {  # format -> [(field path, shown field word, values that must be refused)]
            "zarr2": [
                (["shape"], "shape", ["x", 1.5, True, {}, None, [16, "a", 16], [16, 16.5, 16],
                                      [16, None, 16], DELETE]),
                (["chunks"], "chunks", ["x", 8, True, {}, None, [8, "a", 8], [8, 8],
                                        [8, 8.5, 8], DELETE]),
                (["dtype"], "dtype", [1, None, [], {}, "<u9", "x", "", DELETE]),
                (["compressor"], "compressor", ["zstd", 1, [], {"id": 5}, {"id": "nope"}, {}]),
                (["fill_value"], "fill_value", ["x", [], {}, [1, 2]]),
                (["order"], "order", ["Q", 1, None, DELETE]),
                (["filters"], "filters", ["x", 1, {}, [1], [{"id": "nope"}]]),
                (["zarr_format"], "zarr_format", [3, "2", None, 2.5]),
                (["dimension_separator"], "dimension_separator", [1, "-", "..", "/..", []]),
            ],
            "n5": [
                (["dimensions"], "dimensions", ["x", 1.5, {}, None, [16, "a", 16], [16, 16],
                                                [16, 16.5, 16], DELETE]),
                (["blockSize"], "blockSize", ["x", 8, {}, None, [8, "a", 8], [8, 8],
                                              DELETE]),
                (["dataType"], "dataType", [1, None, [], "uint9", "x", DELETE]),
                (["compression"], "compression", ["gzip", 1, [], {}, {"type": 5},
                                                  {"type": "nope"}]),
                (["compression", "level"], "level", ["x", [], {}, 1e300]),
            ],
            "zarr3": [
                (["shape"], "shape", ["x", 1.5, {}, None, [16, "a", 16], [16, 16.5, 16],
                                      DELETE]),
                (["data_type"], "data_type", [1, None, [], "uint9", "x", DELETE]),
                (["chunk_grid"], "chunk_grid", ["x", 1, [], None, {}, {"name": "irregular"},
                                                DELETE]),
                (["chunk_grid", "configuration", "chunk_shape"], "chunk_shape",
                 ["x", 8, {}, None, [8, "a", 8], [8, 8], [8, 8.5, 8]]),
                (["chunk_key_encoding"], "chunk_key_encoding", ["x", 1, [], {"name": 5},
                                                                {"name": "nope"}]),
                (["chunk_key_encoding", "configuration", "separator"], "separator",
                 [1, "..", "/..", "\u0000", "-", ""]),
                (["fill_value"], "fill_value", ["x", [], {}, [1, 2], DELETE]),
                (["codecs"], "codecs", ["x", 1, {}, None, [], [1], [{"name": "nope"}], DELETE]),
                (["zarr_format"], "zarr_format", [2, "3", None]),
                (["node_type"], "node_type", ["group", 1, None]),
                (["dimension_names"], "dimension_names", ["x", 1, ["a", "b"]]),
            ],
        }
        for fmt, lst in fields.items():
            codec = "zstd"
            for path, word, values in lst:
                for i, v in enumerate(values):
                    shown = "deleted" if v is DELETE else json.dumps(v)
                    # A group is no array to export or run, but `info` lists its tree.
                    group = path == ["node_type"] and v == "group"
                    self.meta_case("json_type", f"{'.'.join(path)}-{i}", fmt, codec,
                                   S(path, v), [word], f"{META[fmt]}: {'.'.join(path)} = {shown}",
                                   commands=("export", "run") if group else
                                   ("info", "export", "run"))
            # Not JSON at all; JSON of the wrong kind; empty.
            for name, text in (("not-json", "{\"shape\": [16,"), ("array", "[1, 2, 3]"),
                               ("empty", ""), ("string", "\"x\""), ("nul", "{\"a\u0000\": 1}"),
                               ("binary", b"\xff\xfe\x00\x01garbage")):
                # An N5 attributes.json without dimensions is a group, not an array.
                words = [META[fmt]]
                self.meta_case("json_type", f"file-{name}", fmt, codec,
                               (lambda t: (lambda m: t))(text), words,
                               f"{META[fmt]} replaced by {text!r}")
        # Sharding configuration fields.
        sh = ["codecs", 0, "configuration"]
        for path, word, values in (
                (sh + ["chunk_shape"], "chunk_shape", ["x", [8, 8], [0, 8, 8], [-8, 8, 8],
                                                       [5, 8, 8], [32, 8, 8], None]),
                (sh + ["codecs"], "codecs", ["x", [], [{"name": "nope"}], None]),
                (sh + ["index_codecs"], "index_codecs", ["x", [], [{"name": "gzip"}], None]),
                (sh + ["index_location"], "index_location", ["middle", 1, None])):
            for i, v in enumerate(values):
                self.meta_case("json_type", f"sharding.{path[-1]}-{i}", "zarr3s", "zstd",
                               S(path, v), [word], f"zarr.json sharding {path[-1]} = {v!r}")

        # Overflowing shape products, absurd sizes.
        for fmt, shape_f, chunk_f in (("zarr2", ["shape"], ["chunks"]),
                                      ("n5", ["dimensions"], ["blockSize"]),
                                      ("zarr3", ["shape"],
                                       ["chunk_grid", "configuration", "chunk_shape"])):
            sw, cw = shape_f[-1], chunk_f[-1]
            for name, shape, chunks, word in (
                    ("shape-product", [1 << 30] * 3, [8] * 3, sw),
                    ("shape-product-2", [1 << 62, 4, 1], [8] * 3, sw),
                    ("shape-2^63", [1 << 63, 16, 16], [8] * 3, sw),
                    ("shape-2^64", [1 << 64, 16, 16], [8] * 3, sw),
                    ("shape-1e300", [1e300, 16, 16], [8] * 3, sw),
                    ("shape-negative", [-16, 16, 16], [8] * 3, sw),
                    ("chunk-product", [16] * 3, [1 << 21] * 3, cw),
                    ("chunk-bytes", [16] * 3, [1 << 20, 1 << 20, 1 << 22], cw),
                    ("chunk-2^63", [16] * 3, [1 << 63, 8, 8], cw),
                    ("chunk-count", [(1 << 62)] * 3, [1] * 3, sw)):
                if fmt == "n5":
                    shape, chunks = shape[::-1], chunks[::-1]

                def edit(m, shape=shape, chunks=chunks):
                    self.setter(shape_f, shape)(m)
                    self.setter(chunk_f, chunks)(m)
                self.meta_case("overflow", name, fmt, "zstd", edit, [word],
                               f"{sw} = {shape}, {cw} = {chunks}")
            for name, chunks in (("zero", [0, 8, 8]), ("negative", [8, -1, 8]),
                                 ("all-zero", [0, 0, 0]), ("min-int", [-(1 << 63), 8, 8])):
                self.meta_case("chunk_size", name, fmt, "zstd",
                               self.setter(chunk_f, chunks), [cw], f"{cw} = {chunks}")
            for rank in (0, 33, 64, 1000, 100000):
                def edit(m, rank=rank):
                    self.setter(shape_f, [2] * rank)(m)
                    self.setter(chunk_f, [1] * rank)(m)
                    if fmt == "zarr3" and "dimension_names" in m:
                        del m["dimension_names"]
                self.meta_case("rank", f"rank{rank}", fmt, "zstd", edit, [sw],
                               f"rank {rank}: {sw} = [2]*{rank}, {cw} = [1]*{rank}",
                               expect="error_or_ok" if rank == 0 else "error")

    # -- keys, symlinks, special files ------------------------------------------------------
    def key_cases(self):
        outside = os.path.join(self.out, "outside")
        os.makedirs(outside, exist_ok=True)
        for fmt, codec in (("n5", "raw"), ("zarr2", "zstd"), ("zarr3", "gzip"),
                           ("zarr3s", "zstd")):
            key = KEY0[fmt]
            src = os.path.join(self.base(fmt, codec), key)
            target = os.path.join(outside, f"{fmt}-{codec}-chunk")
            shutil.copy(src, target)
            # A chunk that is a link to a (valid) chunk outside the dataset: absolute, relative.
            for kind in ("absolute", "relative"):
                _, p = self.case("symlink", f"{fmt}-chunk-{kind}", fmt, codec,
                                 f"chunk {key} is a {kind} symlink leaving the root",
                                 ["export", "run"], [key])
                f = os.path.join(p, key)
                os.remove(f)
                os.symlink(target if kind == "absolute" else os.path.relpath(target,
                                                                             os.path.dirname(f)), f)
            _, p = self.case("symlink", f"{fmt}-chunk-etc-passwd", fmt, codec,
                             f"chunk {key} links to /etc/passwd", ["export", "run"], [key])
            os.remove(os.path.join(p, key))
            os.symlink("/etc/passwd", os.path.join(p, key))
            _, p = self.case("symlink", f"{fmt}-chunk-dev-zero", fmt, codec,
                             f"chunk {key} links to /dev/zero", ["export", "run"], [key])
            os.remove(os.path.join(p, key))
            os.symlink("/dev/zero", os.path.join(p, key))
            _, p = self.case("symlink", f"{fmt}-chunk-loop", fmt, codec,
                             f"chunk {key} is a symlink to itself", ["export", "run"], [key])
            os.remove(os.path.join(p, key))
            os.symlink(os.path.basename(key), os.path.join(p, key))
            # The first directory of the chunk key links outside.
            top = key.split("/")[0]
            dtarget = os.path.join(outside, f"{fmt}-{codec}-dir")
            shutil.copytree(os.path.join(self.base(fmt, codec), top), dtarget, dirs_exist_ok=True)
            _, p = self.case("symlink", f"{fmt}-dir-outside", fmt, codec,
                             f"directory {top}/ of chunk {key} links outside the root",
                             ["export", "run"], [top])
            shutil.rmtree(os.path.join(p, top))
            os.symlink(dtarget, os.path.join(p, top))
            # The metadata file links outside.
            mtarget = os.path.join(outside, f"{fmt}-{codec}-meta")
            shutil.copy(os.path.join(self.base(fmt, codec), META[fmt]), mtarget)
            _, p = self.case("symlink", f"{fmt}-metadata-outside", fmt, codec,
                             f"{META[fmt]} links outside the root", ["info", "export", "run"],
                             [META[fmt]])
            os.remove(os.path.join(p, META[fmt]))
            os.symlink(mtarget, os.path.join(p, META[fmt]))
            # Special files where a chunk should be.
            # A directory is a key prefix to the store, so reading it as absent is allowed.
            _, p = self.case("file_kind", f"{fmt}-chunk-is-dir", fmt, codec,
                             f"chunk {key} is a directory", ["export", "run"], [key],
                             expect="error_or_ok")
            os.remove(os.path.join(p, key))
            os.mkdir(os.path.join(p, key))
            _, p = self.case("file_kind", f"{fmt}-chunk-is-fifo", fmt, codec,
                             f"chunk {key} is a FIFO (an open would block)", ["export", "run"],
                             [key])
            os.remove(os.path.join(p, key))
            os.mkfifo(os.path.join(p, key))
            _, p = self.case("file_kind", f"{fmt}-metadata-is-dir", fmt, codec,
                             f"{META[fmt]} is a directory", ["info", "export", "run"],
                             [META[fmt]])
            os.remove(os.path.join(p, META[fmt]))
            os.mkdir(os.path.join(p, META[fmt]))
            _, p = self.case("file_kind", f"{fmt}-metadata-is-fifo", fmt, codec,
                             f"{META[fmt]} is a FIFO", ["info", "export", "run"], [META[fmt]])
            os.remove(os.path.join(p, META[fmt]))
            os.mkfifo(os.path.join(p, META[fmt]))
            _, p = self.case("file_kind", f"{fmt}-metadata-sparse-1TiB", fmt, codec,
                             f"{META[fmt]} is a sparse 1 TiB file", ["info", "export", "run"],
                             [META[fmt]])
            with open(os.path.join(p, META[fmt]), "r+b") as f:
                f.truncate(1 << 40)
        # Dataset paths: through `..` to a non-dataset, a file, a missing one.
        c, p = self.case("key", "path-dotdot-to-container", "zarr2", "raw",
                         "dataset path arr/.. names the container (a group, not an array)",
                         ["export", "run"], ["not an array"])  # info lists the group's tree
        c["path"] = os.path.join(c["path"], "..")
        c, p = self.case("key", "path-is-file", "zarr2", "raw",
                         "dataset path names a chunk file", ["info", "export", "run"],
                         ["not a dataset"])
        c["path"] = os.path.join(c["path"], "0", "0", "0")
        c, p = self.case("key", "path-missing", "zarr2", "raw", "dataset path does not exist",
                         ["info", "export", "run"], ["no such dataset"])
        c["path"] = os.path.join(c["path"], "..", "nope", "..", "missing")
        # Job files whose input path holds a NUL, or is empty.
        for name, raw, words in (("input-nul", "{path}\u0000/../x", ["[input] path", "NUL"]),
                                 ("input-empty", "", ["[input] path", "must not be empty"])):
            c, p = self.case("job", name, "zarr2", "raw", f"job [input] path: {name}", ["run"],
                             words)
            c["job_input"] = raw

    def write(self):
        self.chunk_cases()
        self.n5_header_cases()
        self.codec_size_cases()
        self.bomb_cases()
        self.shard_cases()
        self.metadata_cases()
        self.key_cases()
        shutil.rmtree(os.path.join(self.out, "_base"))
        with open(os.path.join(self.out, "manifest.json"), "w") as f:
            json.dump({"cases": self.cases}, f, indent=1)
        return self.cases


class _Delete:
    def __repr__(self):
        return "DELETE"


DELETE = _Delete()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--volbatch", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                      "volbatch"))
    a = ap.parse_args()
    cases = Corpus(a.out, os.path.abspath(a.volbatch)).write()
    counts = {}
    for c in cases:
        counts[c["category"]] = counts.get(c["category"], 0) + 1
    print(f"{len(cases)} cases in {a.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    sys.exit(main())
