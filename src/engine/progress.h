// How long engine operations report progress (base/progress.h): a face
// gives a ProgressObserver, nullptr means nobody is watching.
#pragma once

#include "base/progress.h"

namespace nb::engine {

using ProgressObserver = nb::ProgressObserver;

}  // namespace nb::engine
