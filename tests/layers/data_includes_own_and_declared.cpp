// Must compile: src/data may include its own folder and those of the libraries it declares.
#include "core/errors.hpp"
#include "data/partition.hpp"
#include "io/h5.hpp"
