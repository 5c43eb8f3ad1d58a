#include "hub/secret_strength.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "crypto/random.h"

namespace nb::hub {
namespace {

// Passwords attackers try first; a secret equal to one (ignoring case) is
// worth a handful of bits whatever its length.
constexpr std::array<std::string_view, 24> kCommonPasswords = {
    "password", "123456", "12345678", "qwerty",   "letmein",  "welcome",  "admin",    "iloveyou",
    "monkey",   "dragon", "abc123",   "football", "secret",   "passw0rd", "trustno1", "sunshine",
    "princess", "master", "hello",    "freedom",  "whatever", "shadow",   "azerty",   "changeme"};

bool IsSequenceStep(unsigned char a, unsigned char b) {
  return std::isalnum(a) && std::isalnum(b) &&
         (static_cast<int>(std::tolower(b)) - static_cast<int>(std::tolower(a)) == 1 ||
          static_cast<int>(std::tolower(a)) - static_cast<int>(std::tolower(b)) == 1);
}

}  // namespace

std::string HumanDurationSeconds(double seconds) {
  struct Unit {
    const char* name;
    double seconds;
  };
  static constexpr Unit kUnits[] = {
      {"year", 365.25 * 86400}, {"day", 86400}, {"hour", 3600}, {"minute", 60}, {"second", 1}};
  if (seconds < 1) return "less than a second";
  for (const auto& unit : kUnits) {
    if (seconds >= unit.seconds) {
      double count = seconds / unit.seconds;
      if (count >= 1e9) return "more than a billion years";
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.0f %s%s", count, unit.name, count >= 1.5 ? "s" : "");
      return buf;
    }
  }
  return "less than a second";
}

SecretStrength EstimateSecretStrength(std::string_view secret) {
  SecretStrength out;
  std::string_view password = secret;
  if (size_t colon = secret.find(':'); colon != std::string_view::npos) {
    password = secret.substr(colon + 1);
  } else {
    out.has_password = false;
    out.warnings.push_back(
        "it has no password part (\"name:password\"), so all of it is guessable as one word");
  }
  bool lower = false, upper = false, digit = false, symbol = false, other = false;
  for (unsigned char c : password) {
    if (c >= 0x80) {
      other = true;
    } else if (std::islower(c)) {
      lower = true;
    } else if (std::isupper(c)) {
      upper = true;
    } else if (std::isdigit(c)) {
      digit = true;
    } else {
      symbol = true;
    }
  }
  double pool = (lower ? 26 : 0) + (upper ? 26 : 0) + (digit ? 10 : 0) + (symbol ? 33 : 0) +
                (other ? 100 : 0);
  // Characters that add little: a repeat of the previous one, or the next
  // step of a sequence ("abc", "321").
  size_t effective = 0;
  for (size_t i = 0; i < password.size(); ++i) {
    auto c = static_cast<unsigned char>(password[i]);
    if (i > 0) {
      auto prev = static_cast<unsigned char>(password[i - 1]);
      if (c == prev || IsSequenceStep(prev, c)) continue;
    }
    ++effective;
  }
  out.bits = pool > 0 ? static_cast<double>(effective) * std::log2(pool) : 0;
  std::string lowered(password);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (auto common : kCommonPasswords) {
    if (lowered == common) {
      out.bits = std::min(out.bits, 10.0);
      out.warnings.push_back("it is one of the first passwords anyone tries");
      break;
    }
  }
  if (password.empty()) {
    out.bits = 0;
    out.warnings.push_back("its password part is empty");
  }
  double seconds = std::pow(2.0, std::max(0.0, out.bits - 1)) / kAssumedGuessesPerSecond;
  out.time_to_guess = seconds < 1 ? "less than a second" : "about " + HumanDurationSeconds(seconds);
  if (out.bits < kStrongSecretBits && out.warnings.empty()) {
    out.warnings.push_back("it is short or predictable");
  }
  return out;
}

std::string GenerateSecret(std::string_view name) {
  // No 0/o or 1/l/i look-alikes.
  static constexpr std::string_view kAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  static_assert(kAlphabet.size() == 31);
  std::string out(name.empty() ? "hub" : name);
  out += ':';
  size_t produced = 0;
  while (produced < 25) {
    uint8_t byte = 0;
    crypto::RandomFill(std::span<uint8_t>(&byte, 1));
    // Rejection sampling keeps every letter equally likely.
    if (byte >= 248) continue;
    if (produced > 0 && produced % 5 == 0) out += '-';
    out += kAlphabet[byte % 31];
    ++produced;
  }
  return out;
}

}  // namespace nb::hub
