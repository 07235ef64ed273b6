// From the public PressConfig value to a press object of the registry (one per session).
#pragma once
#include <memory>

#include "kvpress/press.h"
#include "press/press.h"

namespace kvpress {

// nullptr for no press. Throws Error as make_press does.
std::unique_ptr<Press> build_press(const PressConfig& config);

}  // namespace kvpress
