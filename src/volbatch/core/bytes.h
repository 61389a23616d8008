// Bytes: the byte buffer every layer passes (chunk payloads, array storage, file contents).
//
// Unlike std::vector<std::byte>, growing a Bytes does NOT zero the new bytes: every buffer
// here is about to be overwritten by a read, a decoder or a computation, and zeroing first was
// a tenth of a block-wise run's CPU time (a whole extra pass over memory, plus the page faults
// taken inside memset instead of inside the writer). Code that needs zeros asks for them:
// Bytes(n, std::byte{0}).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
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

}  // namespace volbatch
