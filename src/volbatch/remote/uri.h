// Percent-encoding of keys and query values as AWS Signature V4 canonicalizes them (RFC 3986:
// everything but A-Z a-z 0-9 - . _ ~ is %XX, upper-case hex), so the URL libcurl signs is the
// URL the server checks. Plain HTTP servers decode it the same way.
#pragma once

#include <string>
#include <string_view>

namespace volbatch {

// `keep_slash`: '/' stays (a key's path), else it becomes %2F (a query value).
std::string PercentEncode(std::string_view s, bool keep_slash);

}  // namespace volbatch
