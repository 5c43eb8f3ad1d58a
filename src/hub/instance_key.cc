#include "hub/instance_key.h"

#include <sys/stat.h>

#include "crypto/random.h"
#include "store/file_io.h"

namespace nb::hub {

Result<crypto::PrivateKey> LoadOrCreateInstanceKey(const std::filesystem::path& home) {
  const std::filesystem::path file = home / "instance.key";
  struct stat st;
  if (::stat(file.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return MakeError(ErrorCode::kInvalidArgument, file.string() + " is not a regular file");
    }
    if ((st.st_mode & 077) != 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       file.string() + " is readable by other users; fix with chmod 600");
    }
    NB_ASSIGN_OR_RETURN(Bytes bytes, store::ReadFileBytes(file, 4096));
    std::string text(bytes.begin(), bytes.end());
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    auto scalar_bytes = HexDecode(text);
    if (!scalar_bytes || scalar_bytes->size() != crypto::kScalarSize) {
      return MakeError(ErrorCode::kCorrupt, file.string() + " does not hold a device key");
    }
    crypto::Scalar scalar;
    std::copy(scalar_bytes->begin(), scalar_bytes->end(), scalar.begin());
    auto key = crypto::PrivateKey::FromScalar(scalar);
    if (!key.ok()) {
      return MakeError(ErrorCode::kCorrupt, file.string() + " does not hold a valid device key");
    }
    return key;
  }
  // A random 256-bit value is below the group order except with negligible
  // probability; FromScalar refuses the rare exceptions, so draw again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    crypto::Scalar scalar;
    crypto::RandomFill(scalar);
    auto key = crypto::PrivateKey::FromScalar(scalar);
    if (!key.ok()) continue;
    NB_RETURN_IF_ERROR(store::EnsureDirectory(home));
    std::string text = HexEncode(scalar) + "\n";
    NB_RETURN_IF_ERROR(store::ReplaceFileDurably(file, AsBytes(text), {.mode = 0600}));
    return key;
  }
  return MakeError(ErrorCode::kCrypto, "could not generate a device key");
}

}  // namespace nb::hub
