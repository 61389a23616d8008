// Bytes: the byte buffer every layer passes (chunk payloads, array storage, file contents).
//
// Unlike std::vector<std::byte>, growing a Bytes does NOT zero the new bytes: every buffer
// here is about to be overwritten by a read, a decoder or a computation, and zeroing first was
// a tenth of a block-wise run's CPU time (a whole extra pass over memory, plus the page faults
// taken inside memset instead of inside the writer). Code that needs zeros asks for them:
// Bytes(n, std::byte{0}).
//
// Its allocator is not std::allocator, so libstdc++ copies a Bytes (copy construction, a range
// constructor, insert, assign) element by element, one byte per cycle instead of memcpy's
// 16 or more: a 256 KiB chunk copied that way cost as much as writing it to the page cache.
// Copy with CopyBytes and AppendBytes below.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <vector>

namespace volbatch {

// std::allocator whose value-initialization (`construct(p)` with no arguments) is
// default-initialization, so trivial types are left as they are.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  using std::allocator<T>::allocator;
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    std::allocator_traits<std::allocator<T>>::construct(static_cast<std::allocator<T>&>(*this), p,
                                                        std::forward<Args>(args)...);
  }
};

using Bytes = std::vector<std::byte, DefaultInitAllocator<std::byte>>;

// A copy of `data`, made with one memcpy.
inline Bytes CopyBytes(std::span<const std::byte> data) {
  Bytes out(data.size());
  if (!data.empty()) std::memcpy(out.data(), data.data(), data.size());
  return out;
}

// Appends `data` to `out` with memcpy, growing its capacity geometrically as insert would
// (and moving what it holds with memcpy too: Bytes's own growth moves byte by byte).
inline void AppendBytes(Bytes& out, std::span<const std::byte> data) {
  if (data.empty()) return;
  const size_t at = out.size();
  if (out.capacity() - at < data.size()) {
    Bytes grown;
    grown.reserve(std::max(at + data.size(), 2 * out.capacity()));
    grown.resize(at);
    if (at > 0) std::memcpy(grown.data(), out.data(), at);
    out.swap(grown);
  }
  out.resize(at + data.size());
  std::memcpy(out.data() + at, data.data(), data.size());
}

}  // namespace volbatch
