// How hard a hub secret is to guess, and strong generated secrets.
//
// The hub key is PBKDF2(secret, fixed salt, 100,000 iterations) (FORMAT.md
// §1) and the hub id (the public key) travels in the clear with every copy
// of the hub. Anyone who sees a hub id can therefore guess secrets offline,
// at the speed of their hardware, with no server to slow them down: the
// secret's own unpredictability is the only protection.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nb::hub {

// Guesses per second we assume for an attacker with one current GPU
// against PBKDF2-HMAC-SHA256 at 100,000 iterations (about 10^10 SHA-256
// compressions per second, two per iteration).
constexpr double kAssumedGuessesPerSecond = 1e5;

struct SecretStrength {
  double bits = 0;           // estimated entropy of the guessable part
  bool has_password = true;  // false: no "name:password" form
  // Plain-language reasons it is weak; empty when it is strong enough.
  std::vector<std::string> warnings;
  // "about 3 hours" (or "less than a second") for one GPU to try half of
  // the space.
  std::string time_to_guess;
  bool weak() const { return !warnings.empty(); }
};

// Below this many bits a secret gets a warning (about 180 years for one
// GPU at the assumed rate; cheap for a well-funded attacker beyond that).
constexpr double kStrongSecretBits = 60;

// A conservative estimate: character classes times length, where runs of
// one character, keyboard/alphabet sequences and well-known passwords
// count for almost nothing. The secret's name part (before the first
// colon) is printed in the clear in many places and counts for nothing.
SecretStrength EstimateSecretStrength(std::string_view secret);

// A fresh secret "name:xxxxx-xxxxx-xxxxx-xxxxx-xxxxx": 25 characters from
// a 31-letter alphabet without look-alikes, about 124 bits from the system
// RNG.
std::string GenerateSecret(std::string_view name);

// "4 minutes", "3 days", "12,000 years".
std::string HumanDurationSeconds(double seconds);

}  // namespace nb::hub
