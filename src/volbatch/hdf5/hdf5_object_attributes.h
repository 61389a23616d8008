// The attributes of one HDF5 object (group or dataset) as a JSON object. Each attribute is read
// as stored (file byte order, fixed-length strings as bytes; variable-length strings through
// libhdf5) and decoded by AttributeToJson. Cost: one small read per attribute, all under the
// HDF5 lock.
#pragma once

#include <hdf5.h>

#include <nlohmann/json.hpp>
#include <string>

namespace volbatch {

// An attribute that cannot be decoded becomes a string saying why ("<unreadable: ...>") so
// that `info` still shows the rest; `where` names the object in those strings' errors.
nlohmann::json ReadHdf5Attributes(hid_t object, const std::string& where);

}  // namespace volbatch
