#include "volbatch/codec/builtin.h"

namespace volbatch {

void RegisterBytesEndianCodec();
void RegisterTransposeCodec();
void RegisterGzipCodec();
void RegisterZlibCodec();
void RegisterZstdCodec();
void RegisterBloscCodec();
void RegisterCrc32cCodec();
void RegisterBz2Codec();
void RegisterXzCodec();
void RegisterLz4Codec();
void RegisterN5Lz4Codec();
void RegisterShardingCodec();
void RegisterNumcodecsCompressors();
void RegisterNumcodecsChecksums();
void RegisterNumcodecsShuffleCodec();
void RegisterNumcodecsCastFilters();
void RegisterNumcodecsBitRoundFilter();
void RegisterNumcodecsScaleFilters();
void RegisterNumcodecsPackBitsFilter();

void RegisterBuiltinCodecs() {
  RegisterBytesEndianCodec();
  RegisterTransposeCodec();
  RegisterGzipCodec();
  RegisterZlibCodec();
  RegisterZstdCodec();
  RegisterBloscCodec();
  RegisterCrc32cCodec();
  RegisterBz2Codec();
  RegisterXzCodec();
  RegisterLz4Codec();
  RegisterN5Lz4Codec();
  RegisterShardingCodec();
  RegisterNumcodecsCompressors();
  RegisterNumcodecsChecksums();
  RegisterNumcodecsShuffleCodec();
  RegisterNumcodecsCastFilters();
  RegisterNumcodecsBitRoundFilter();
  RegisterNumcodecsScaleFilters();
  RegisterNumcodecsPackBitsFilter();
}

}  // namespace volbatch
