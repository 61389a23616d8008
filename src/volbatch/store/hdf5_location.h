// HDF5 files inside dataset paths, as funlib and gunpowder users write them:
// `sample_A.hdf/volumes/raw` is the dataset /volumes/raw in the file sample_A.hdf. A file is
// HDF5 by its signature (8 bytes at offset 0, 512, 1024, 2048, ...), not by its name.
//
// libhdf5 and its ~35 libraries (curl, krb5, ldap, ...) live in the plugin
// libvolbatch_format_hdf5.so, loaded only when a path reaches an HDF5 file; this file, in the
// store layer, finds the file and calls what the plugin registered.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/store/driver.h"

namespace volbatch {

struct Hdf5Location {
  std::string file;    // the HDF5 file on disk
  std::string object;  // the object inside it: "/volumes/raw", or "/" for the root group
  std::string Describe() const { return file + ":" + object; }
};

// True if `file` is a regular file carrying the HDF5 signature. Reads 8 bytes at each
// candidate offset (at most ~log2(size) reads).
bool HasHdf5Signature(const std::string& file);

// The HDF5 file `path` is in (the path itself, or the file it continues into), or nullopt if
// no prefix of `path` is a regular file (a URL, a directory, a path that does not exist).
// Throws InvalidArgument naming both when `path` continues inside a regular file that is not
// HDF5 ("notes.txt/volumes/raw"). Cost: one stat per component walked up from the first one
// that exists, plus the signature reads.
std::optional<Hdf5Location> FindHdf5Location(const std::string& path);

// True if some component of `path` is named like an HDF5 file (.h5, .hdf5, .hdf, .he5) and is
// not a directory: where nothing exists yet, the name is all there is to refuse a write by.
bool HasHdf5Name(const std::string& path);

// Throws Unsupported naming `path` if it is, or would be, inside an HDF5 file: volbatch reads
// HDF5 but does not write it.
void RefuseHdf5Write(const std::string& path);

// What the plugin provides. Every function throws volbatch::Error naming the file and the
// object.
struct Hdf5Api {
  // The dataset at `where`; InvalidArgument for a group, Unsupported for a type volbatch
  // cannot read (compound, string, variable length, ...).
  std::function<std::shared_ptr<FormatDriver>(const Hdf5Location& where)> open;
  // The object's attributes as JSON (numbers, strings, lists of them).
  std::function<nlohmann::json(const Hdf5Location& where)> attributes;
  // What `where` holds as a tree if it is a group; nullopt if it is a dataset.
  std::function<std::optional<nlohmann::json>(const Hdf5Location& where)> group_tree;
};

void RegisterHdf5Api(Hdf5Api api);
// Loads the plugin on first use. Throws Unsupported naming `where` if it is not installed.
const Hdf5Api& LoadHdf5Api(const Hdf5Location& where);

}  // namespace volbatch
