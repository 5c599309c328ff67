#include "sim/combine_diagnostics.hpp"

#include <fmt/format.h>

#include <limits>

#include "core/errors.hpp"
#include "model/tensor_values.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
const double kNaN = std::numeric_limits<double>::quiet_NaN();

torch::Tensor as_tensor(const std::vector<double>& values) {  // [n] float64, a copy
  return torch::tensor(values, kF64).reshape({static_cast<int64_t>(values.size())});
}

// Scalars summed over ranks in one all-reduce, those maximised in another (none when unused).
void combine_scalars(std::vector<ScalarDiagnostic>& scalars, Communicator& comm) {
  for (Across rule : {Across::sum, Across::max}) {
    std::vector<double> values;
    for (const ScalarDiagnostic& s : scalars)
      if (s.across == rule) values.push_back(s.value);
    if (values.empty()) continue;
    torch::Tensor t = as_tensor(values);  // [n]
    rule == Across::sum ? comm.allreduce_sum(t) : comm.allreduce_max(t);
    size_t i = 0;
    for (ScalarDiagnostic& s : scalars)
      if (s.across == rule) s.value = t[static_cast<int64_t>(i++)].item<double>();
  }
}

void combine_parts(PartStatistics& p, Communicator& comm) {
  const auto t = static_cast<int64_t>(p.names.size());
  if (p.sum.size() != p.names.size() || p.count.size() != p.names.size() || p.max.size() != p.names.size())
    throw Error(fmt::format("diagnostics {}: sum, count and max need one entry per part ({})", p.group, t));
  torch::Tensor sums = torch::stack({as_tensor(p.sum), as_tensor(p.count)});  // [2, T]: Σ values, count
  torch::Tensor maxima = as_tensor(p.max);                                     // [T]
  if (p.across != Across::same) {
    comm.allreduce_sum(sums);
    comm.allreduce_max(maxima);
  }
  const torch::Tensor seen = sums[1] > 0;                                                        // [T]
  const torch::Tensor mean = torch::where(seen, sums[0] / sums[1], torch::full({t}, kNaN, kF64));  // [T]
  p.sum = to_doubles(sums[0]);
  p.count = to_doubles(sums[1]);
  p.mean = to_doubles(mean);
  p.max = to_doubles(torch::where(seen, maxima, torch::full({t}, kNaN, kF64)));
}

// Every rank's rows into the whole [N, width] table, NaN rows where no rank computed one.
void combine_rows(ClientRows& c, int64_t num_clients, Communicator& comm) {
  const auto k = static_cast<int64_t>(c.clients.size());
  if (static_cast<int64_t>(c.values.size()) != k * c.width)
    throw Error(fmt::format("diagnostics {}: {} values for {} rows of width {}", c.path, c.values.size(), k, c.width));
  const Gathered clients = comm.allgatherv(torch::tensor(c.clients, torch::kInt64).reshape({k}));  // [K]
  const torch::Tensor mine = torch::tensor(c.values, kF64).reshape({k, c.width});  // [k, width]
  const Gathered rows = comm.allgatherv(mine);                                     // [K, width]
  torch::Tensor table = torch::full({num_clients, c.width}, kNaN, kF64);          // [N, width]
  if (clients.data.numel() > 0) table.index_copy_(0, clients.data, rows.data);
  c.values = to_doubles(table);
}

}  // namespace

void combine_diagnostics(Diagnostics& diagnostics, int64_t num_clients, Communicator& comm) {
  combine_scalars(diagnostics.scalars, comm);
  for (PartStatistics& p : diagnostics.parts) combine_parts(p, comm);
  for (ClientRows& c : diagnostics.client_rows)
    if (c.store) combine_rows(c, num_clients, comm);
}

}  // namespace fedsaf
