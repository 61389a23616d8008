// How much memory this process may still take, for caches that size themselves: the kernel's
// MemAvailable, lowered to the room left under the process's cgroup limit (v2 memory.max -
// memory.current, or v1 memory.limit_in_bytes - memory.usage_in_bytes), so a loader in a
// container or a Slurm/Kubernetes allocation sizes itself by its allocation, not the host.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace volbatch {

// Bytes; 0 when /proc/meminfo cannot be read.
int64_t AvailableMemoryBytes();

// The pieces, for tests: MemAvailable of a /proc/meminfo text (0 if absent), and the room a
// cgroup leaves (-1: no limit) given the root of the cgroup filesystem and /proc/self/cgroup.
int64_t MemAvailableOf(std::string_view meminfo);
int64_t CgroupRoomOf(const std::string& cgroup_root, std::string_view proc_self_cgroup);

}  // namespace volbatch
