#include "apps/profile/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "hub/home.h"
#include "hub/secret.h"
#include "store/file_io.h"

namespace nb::apps::profile {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxIdentityFileSize = 64 * 1024;

Error IoError(const std::string& what, const fs::path& path, int err) {
  return MakeError(ErrorCode::kIo, what + " " + path.string() + ": " + store::ErrnoText(err));
}

}  // namespace

fs::path DefaultIdentityPath() { return hub::HomeDir() / "identity"; }

std::string GenerateIdentitySecret() {
  Bytes raw = crypto::RandomBytes(32);
  return std::string(hub::kFileSecretPrefix) + Base64UrlEncode(raw);
}

Result<Identity> IdentityFromSecret(std::string_view secret) {
  static std::mutex mu;
  static std::map<crypto::Hash256, Identity> cache;
  crypto::Hash256 digest = crypto::Sha256(AsBytes(secret));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(digest); it != cache.end()) return it->second;
  }
  NB_ASSIGN_OR_RETURN(hub::SecretMaterial material, hub::ParseSecret(secret));
  NB_ASSIGN_OR_RETURN(crypto::DerivedKeys keys, crypto::DeriveKeys(material.bytes));
  Identity identity{keys.signing_key.public_key().Hex(), keys.signing_key};
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(digest, identity);
  return identity;
}

Status WriteIdentityFile(const fs::path& path, std::string_view secret, bool overwrite) {
  if (secret.empty()) return MakeError(ErrorCode::kInvalidArgument, "the identity secret is empty");
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      return MakeError(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  if (!overwrite && fs::exists(path, ec)) {
    return MakeError(ErrorCode::kInvalidArgument, "an identity already exists in " + path.string() +
                                                      "; use --force to replace it");
  }

  // 0600 from its first byte; without overwrite, published only if no
  // other writer got there first.
  std::string content = std::string(secret) + "\n";
  Status written = store::ReplaceFileDurably(
      path, AsBytes(content),
      {.mode = 0600, .if_exists = overwrite ? store::IfExists::kReplace : store::IfExists::kFail});
  if (!written.ok() && written.error().code == ErrorCode::kInvalidArgument) {
    return MakeError(ErrorCode::kInvalidArgument, "an identity already exists in " + path.string() +
                                                      "; use --force to replace it");
  }
  return written;
}

Result<std::string> ReadIdentityFile(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "no identity in " + path.string() +
                                                 "; create one with `nearbytes profile init`");
    }
    return IoError("cannot read", path, errno);
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "identity file " + path.string() +
                         " is accessible by other users; run `chmod 600 " + path.string() + "`");
  }
  NB_ASSIGN_OR_RETURN(Bytes bytes, store::ReadFileBytes(path, kMaxIdentityFileSize));
  std::string secret(bytes.begin(), bytes.end());
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) {
    return MakeError(ErrorCode::kCorrupt, "identity file " + path.string() + " is empty");
  }
  return secret;
}

Result<Identity> LoadIdentity(const fs::path& path) {
  NB_ASSIGN_OR_RETURN(std::string secret, ReadIdentityFile(path));
  auto identity = IdentityFromSecret(secret);
  if (!identity.ok()) return identity.error().WithContext("identity file " + path.string());
  return identity;
}

}  // namespace nb::apps::profile
