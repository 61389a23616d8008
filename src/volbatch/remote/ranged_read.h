// KvStore::GetRange over HTTP Range requests, with the file store's semantics (a range outside
// the value is DataLoss naming the key; a suffix longer than the value too), shared by the S3
// and HTTP stores.
//
// Protocol: one GET with "Range: bytes=B-E", "B-" or "-N" per call. Servers clamp ranges that
// run past the end (RFC 9110), so the answer's Content-Range total, not the status, decides
// whether the range lay inside. A HEAD (for the size) is added only where a GET cannot say:
// empty ranges, a 416 without a size, and offsets no value can reach. A 200 to a ranged GET
// (a server that ignores Range) is sliced here. A 206 whose Content-Range is not the suffix
// asked for (s3rver answers "-N" with the first N+1 bytes) costs a second GET of the explicit
// range the total now gives.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "volbatch/kvstore/kvstore.h"
#include "volbatch/remote/http_client.h"

namespace volbatch {

// Sends a GET with `range` (nullopt: the whole value) or, if `head`, a HEAD. Returns nullopt
// for an absent key and the response for 200, 206 and 416; throws for any other answer.
using RangeFetch =
    std::function<std::optional<HttpResponse>(const std::optional<std::string>& range, bool head)>;

// `where` names the key in messages (the store's Describe).
std::optional<Bytes> ReadRange(const std::string& where, ByteRange range, const RangeFetch& fetch);

}  // namespace volbatch
