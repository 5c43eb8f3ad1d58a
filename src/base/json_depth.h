// A cheap pre-check before a JSON document from outside is parsed: how
// deeply its arrays and objects nest. Deep nesting costs a parser memory
// (one container per level) without carrying any information we read, so
// every reader of outside JSON bounds it (each bound is named in the
// header that owns that input).
#pragma once

#include <cstddef>
#include <string_view>

namespace nb {

// True if no array or object in `text` nests deeper than `max_depth`
// (strings, with their escapes, are skipped). Linear, no allocation; says
// nothing about whether `text` is valid JSON.
bool JsonNestingAtMost(std::string_view text, size_t max_depth);

}  // namespace nb
