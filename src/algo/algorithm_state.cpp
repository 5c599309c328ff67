#include "algo/algorithm_state.hpp"

namespace fedsaf {

void save_algorithm_state(const Algorithm& algorithm, const ClientStateStore& states, StateWriter& out) {
  states.save(out);
  algorithm.save_state(out);
}

void load_algorithm_state(Algorithm& algorithm, ClientStateStore& states, const std::vector<int64_t>& hosted,
                          StateReader& in) {
  states.load(in, hosted);
  algorithm.load_state(in);
}

}  // namespace fedsaf
