#include "volbatch/exec/restart_policy.h"

#include "volbatch/core/error.h"

namespace volbatch {

RestartPolicy::RestartPolicy(int give_up_after, Duration first, Duration most)
    : give_up_after_(give_up_after), first_(first), most_(most) {
  if (give_up_after < 1 || first <= Duration::zero() || most < first) {
    throw InvalidArgument("RestartPolicy: need give_up_after >= 1 and 0 < first <= most");
  }
}

RestartPolicy::Decision RestartPolicy::Died(bool recorded) {
  Decision d;
  if (recorded) {
    deaths_in_a_row_ = 0;
    return d;  // healthy until it died: at once
  }
  d.deaths_in_a_row = ++deaths_in_a_row_;
  if (deaths_in_a_row_ >= give_up_after_) {
    d.restart = false;
    return d;
  }
  // min(first * 2^(n-1), most), doubled step by step so that it cannot overflow.
  d.delay = first_;
  for (int n = 1; n < deaths_in_a_row_ && d.delay < most_; ++n) {
    d.delay = d.delay > most_ / 2 ? most_ : d.delay * 2;
  }
  return d;
}

}  // namespace volbatch
