// Which sanitizer this translation unit is built with (scripts/sanitize.sh): VOLBATCH_ASAN,
// VOLBATCH_TSAN. GCC says so with __SANITIZE_*__, clang with __has_feature.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define VOLBATCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOLBATCH_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define VOLBATCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VOLBATCH_TSAN 1
#endif
#endif
