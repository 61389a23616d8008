#include "volbatch/remote/xml_scan.h"

#include <cstdint>

namespace volbatch {
namespace {

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t amp = s.find('&', i);
    const size_t semi = amp == std::string_view::npos ? amp : s.find(';', amp);
    if (semi == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, amp - i));
    const std::string_view ent = s.substr(amp + 1, semi - amp - 1);
    if (ent == "amp") {
      out += '&';
    } else if (ent == "lt") {
      out += '<';
    } else if (ent == "gt") {
      out += '>';
    } else if (ent == "quot") {
      out += '"';
    } else if (ent == "apos") {
      out += '\'';
    } else if (ent.size() > 1 && ent[0] == '#') {
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      uint32_t cp = 0;
      bool ok = ent.size() > (hex ? 2u : 1u);
      for (char c : ent.substr(hex ? 2 : 1)) {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0 || cp > 0x10ffff) {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      }
      if (ok && cp <= 0x10ffff) {
        AppendUtf8(out, cp);
      } else {
        out.append(s.substr(amp, semi - amp + 1));
      }
    } else {
      out.append(s.substr(amp, semi - amp + 1));  // unknown: kept as written
    }
    i = semi + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> XmlTexts(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::string close = "</" + std::string(name) + ">";
  std::vector<std::string> out;
  size_t at = 0;
  while (true) {
    const size_t b = xml.find(open, at);
    if (b == std::string_view::npos) break;
    const size_t e = xml.find(close, b + open.size());
    if (e == std::string_view::npos) break;
    out.push_back(Decode(xml.substr(b + open.size(), e - b - open.size())));
    at = e + close.size();
  }
  return out;
}

std::optional<std::string> XmlText(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::string close = "</" + std::string(name) + ">";
  const size_t b = xml.find(open);
  if (b == std::string_view::npos) return std::nullopt;
  const size_t e = xml.find(close, b + open.size());
  if (e == std::string_view::npos) return std::nullopt;
  return Decode(xml.substr(b + open.size(), e - b - open.size()));
}

}  // namespace volbatch
