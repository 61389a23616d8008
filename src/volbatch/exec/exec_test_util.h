// What the exec layer's tests share.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "volbatch/core/error.h"

namespace volbatch {

// Expects f to throw a volbatch::Error whose message holds `what`.
inline void ExpectError(const std::function<void()>& f, const std::string& what) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    return;
  }
  ADD_FAILURE() << "no error; expected one with: " << what;
}

}  // namespace volbatch
