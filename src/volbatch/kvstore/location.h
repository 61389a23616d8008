// Where a store lives: a local path, or a URL whose scheme a backend registered
// ("s3://bucket/prefix", "https://host/path/raw.n5"). Every place that accepts a dataset path
// accepts either; a backend is one file and one RegisterKvStoreScheme line.
//
// The remote backends (S3, HTTP) link libcurl and its TLS stack, ~20 shared libraries a worker
// that reads local files should not load at start: they live in the plugin library
// libvolbatch_kv_remote.so (core/plugin_library.h), which OpenKvStore loads the first time it
// meets a scheme no backend has registered.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "volbatch/kvstore/kvstore.h"

namespace volbatch {

// True for "scheme://..." (scheme: a letter, then letters, digits, '+', '-', '.').
bool IsUrl(std::string_view location);
// The scheme of a URL, lower case ("s3"); empty for a local path.
std::string UrlScheme(std::string_view location);

// Opens the store at a URL of its scheme; throws InvalidArgument naming the URL if malformed.
using KvStoreOpener = std::function<std::shared_ptr<KvStore>(const std::string& url)>;
void RegisterKvStoreScheme(const std::string& scheme, KvStoreOpener opener);

// The store at `location`: a local path or file:// URL is a file store (with `file_options`);
// another URL goes to its scheme's backend. Throws InvalidArgument naming the location for an
// unknown scheme (listing the known ones) or a malformed URL.
std::shared_ptr<KvStore> OpenKvStore(const std::string& location,
                                     const FileStoreOptions& file_options = {});

// A path made absolute and normal ("raw.n5/" -> "/cwd/raw.n5"); a URL as given, without
// trailing slashes.
std::string AbsoluteLocation(std::string_view location);
// `location` with `relative` ('/'-separated) appended: "s3://b/raw.n5" + "s0" is
// "s3://b/raw.n5/s0"; for a local path, the same with the path's separator.
std::string JoinLocation(std::string_view location, std::string_view relative);
// The location one level up and the last segment: "s3://b/a/raw.n5" -> {"s3://b/a", "raw.n5"}.
// The root of a URL ("s3://b") has no parent: {location, ""}.
std::pair<std::string, std::string> SplitLocation(std::string_view location);

}  // namespace volbatch
