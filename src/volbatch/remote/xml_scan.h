// The few things volbatch reads from S3's XML answers (Key, IsTruncated,
// NextContinuationToken, UploadId, Code, Message): the texts of elements by name. Not an XML
// parser: S3 puts these elements at fixed places without attributes, and a scan for
// "<Name>...</Name>" finds them in one pass with no library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace volbatch {

// Texts of every <name>...</name> in document order, with the XML entities (&amp; &lt; &gt;
// &quot; &apos; &#N; &#xN;) decoded. An element left open ends the scan.
std::vector<std::string> XmlTexts(std::string_view xml, std::string_view name);

// The first one's text, or nullopt.
std::optional<std::string> XmlText(std::string_view xml, std::string_view name);

}  // namespace volbatch
