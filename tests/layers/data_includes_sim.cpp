// Must not compile: src/data sits below src/sim (tests/CMakeLists.txt, test_layers).
#include "sim/engine.hpp"
