// The one registry of models (a function-local static: models register from other files' static
// initialisers, in any order).
#include "model/model_registry.hpp"

namespace fedsaf {

Registry<ModelBuilder>& models() {
  static Registry<ModelBuilder> all("model.name", "{key}: unknown model '{value}'; choose one of {choices}");
  return all;
}

}  // namespace fedsaf
