// The distributed pairwise stage at 1, 2 and 4 ranks: ring ≡ allgather bit for bit, both equal to
// a single-process reference computed with plain loops, the peak memory bound of the ring, and
// σ = "auto" identical on every rank.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "algo/attention.hpp"
#include "algo/pairwise.hpp"
#include "core/errors.hpp"
#include "mpi/mpi_communicator.hpp"

namespace fedsaf {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
const auto kF32 = torch::TensorOptions().dtype(torch::kFloat32);
const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);
const double kInf = std::numeric_limits<double>::infinity();

// A seeded cohort, generated identically on every rank; client c lives on rank c % R.
struct Cohort {
  int64_t n, s;
  torch::Tensor params;    // [N, S] float32, every client's latest upload
  torch::Tensor weights;   // [N, S] float32 > 0
  torch::Tensor scalar;    // [N] float32 > 0
  torch::Tensor present;   // [N] bool: has an upload
  std::vector<int64_t> selected;  // cohort, ascending
  torch::Tensor queries;   // [|cohort|, S] float32
  torch::Tensor xi;        // [|cohort|, N] float64 ≥ 0, 0 on absent columns and on the own column
  torch::Tensor xi_self;   // [|cohort|] float64

  Cohort(int64_t n_, int64_t s_, uint64_t seed) : n(n_), s(s_) {
    torch::manual_seed(seed);
    // Large common offset: ‖θ‖² ≫ d, the regime where the expanded distance cancels.
    params = (10.0 + torch::randn({n, s})).to(torch::kFloat32);
    weights = torch::rand({n, s}) + 0.1;
    scalar = torch::rand({n}) + 0.5;
    present = torch::ones({n}, torch::TensorOptions().dtype(torch::kBool));
    for (int64_t j = 0; j < n; ++j)
      if (j % 5 == 3) present[j] = false;
    for (int64_t j = 0; j < n; ++j)
      if (j % 3 != 1) selected.push_back(j);
    const int64_t k = static_cast<int64_t>(selected.size());
    queries = torch::empty({k, s}, kF32);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = selected[i];
      if (i % 4 == 0) queries[i].copy_(params[c]);                           // unchanged: d_cc = 0
      else if (i % 4 == 1) queries[i].copy_(params[c] + 1e-4 * torch::randn({s}));  // very close
      else queries[i].copy_(params[c] + torch::randn({s}));
    }
    xi = torch::rand({k, n}, kF64);
    xi.masked_fill_(~present.reshape({1, n}), 0.0);
    for (int64_t i = 0; i < k; ++i) xi[i][selected[i]] = 0.0;
    xi_self = torch::rand({k}, kF64);
  }
  std::vector<int64_t> rows_of(int rank, int size) const {  // indices into selected
    std::vector<int64_t> rows;
    for (size_t i = 0; i < selected.size(); ++i)
      if (selected[i] % size == rank) rows.push_back(static_cast<int64_t>(i));
    return rows;
  }
  HeldUploads held(int rank, int size, bool with_weights) const {
    std::vector<int64_t> ids;
    for (int64_t j = 0; j < n; ++j)
      if (j % size == rank && present[j].item<bool>()) ids.push_back(j);
    const torch::Tensor idx = torch::tensor(ids, kI64);
    return {idx, params.index_select(0, idx).contiguous(),
            with_weights ? weights.index_select(0, idx).contiguous() : torch::Tensor(), scalar.index_select(0, idx)};
  }
};

torch::Tensor pick(const torch::Tensor& t, const std::vector<int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, kI64)).contiguous();
}

// Plain loops, float64, direct formulas.
torch::Tensor reference_distances(const Cohort& st, const std::vector<int64_t>& rows, torch::Tensor* cosine) {
  const int64_t k = static_cast<int64_t>(rows.size());
  torch::Tensor d = torch::full({k, st.n}, kInf, kF64);
  *cosine = torch::zeros({k, st.n}, kF64);
  for (int64_t i = 0; i < k; ++i) {
    const torch::Tensor q = st.queries[rows[i]].to(torch::kFloat64);
    for (int64_t j = 0; j < st.n; ++j) {
      if (!st.present[j].item<bool>()) continue;
      const torch::Tensor t = st.params[j].to(torch::kFloat64);
      d[i][j] = (q - t).square().sum().item<double>();
      (*cosine)[i][j] = (q.dot(t) / (q.norm() * t.norm())).item<double>();
    }
  }
  return d;
}

torch::Tensor reference_mix(const Cohort& st, const std::vector<int64_t>& rows, bool with_weights) {
  const int64_t k = static_cast<int64_t>(rows.size());
  torch::Tensor u = torch::empty({k, st.s}, kF64);
  for (int64_t i = 0; i < k; ++i) {
    const torch::Tensor q = st.queries[rows[i]].to(torch::kFloat64);
    const int64_t c = st.selected[rows[i]];
    auto w_of = [&](int64_t j) {
      return with_weights ? st.weights[j].to(torch::kFloat64) : torch::ones({st.s}, kF64);
    };
    torch::Tensor w_self = st.xi_self[rows[i]].item<double>() * st.scalar[c].item<double>() * w_of(c);
    torch::Tensor num = w_self * q, den = w_self.clone();
    for (int64_t j = 0; j < st.n; ++j) {
      if (!st.present[j].item<bool>()) continue;
      const torch::Tensor w = st.xi[rows[i]][j].item<double>() * st.scalar[j].item<double>() * w_of(j);
      num += w * st.params[j].to(torch::kFloat64);
      den += w;
    }
    u[i].copy_(num / den);
  }
  return u;
}

struct Result {
  torch::Tensor columns;        // [C] the passes' columns (undefined: all N)
  PairwiseDistances d;
  torch::Tensor u;
  PairwiseStats stats;          // of the mix pass
  double distance_flops = 0;    // the distance pass's stats().gemm_flops
};

// compact_columns: the passes span only the held uploads' clients and the queries' own
// (PairwiseExchange::columns_with) instead of all N.
Result run_pass(Communicator& comm, const Cohort& st, PairwiseMode mode, PairwisePrecision precision,
                int64_t block_rows, bool with_weights, bool compact_columns = false) {
  const std::vector<int64_t> rows = st.rows_of(comm.rank(), comm.size());
  PairwiseExchange ex(comm, mode, precision, st.n, block_rows);
  ex.set_held(st.held(comm.rank(), comm.size(), with_weights));
  const torch::Tensor q = pick(st.queries, rows);
  std::vector<int64_t> clients;
  for (int64_t row : rows) clients.push_back(st.selected[row]);
  const torch::Tensor cl = torch::tensor(clients, kI64);
  Result r;
  if (compact_columns) r.columns = ex.columns_with(cl);
  r.d = ex.distances(q, true, r.columns);
  r.distance_flops = ex.stats().gemm_flops;
  SelfTerm self;  // each query's own term, from this rank's copy
  self.xi = pick(st.xi_self, rows);
  if (with_weights) self.weights = st.weights.index_select(0, cl).contiguous();
  self.scalar = st.scalar.index_select(0, cl);
  const torch::Tensor xi = pick(st.xi, rows);  // [k, N]
  r.u = ex.mix(q, compact_columns ? xi.index_select(1, r.columns) : xi, &self, r.columns);
  r.stats = ex.stats();
  return r;
}

// float32: the uploads' mean, the centre the float32 pass subtracts (float64, rounded to float32).
torch::Tensor centre_of(const Cohort& st) {
  return st.params.index_select(0, st.present.nonzero().flatten()).to(torch::kFloat64).mean(0).to(torch::kFloat32);
}

class Pairwise : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, bool, PairwisePrecision>> {};

TEST_P(Pairwise, RingEqualsAllgatherEqualsReference) {
  const auto [n, block_rows, with_weights, precision] = GetParam();
  MpiCommunicator comm;
  const Cohort st(n, 37, 1234 + static_cast<uint64_t>(n));
  const std::vector<int64_t> rows = st.rows_of(comm.rank(), comm.size());
  const Result ring = run_pass(comm, st, PairwiseMode::ring, precision, block_rows, with_weights);
  const Result gathered = run_pass(comm, st, PairwiseMode::allgather, precision, block_rows, with_weights);

  // Identical, bit for bit.
  EXPECT_TRUE(torch::equal(ring.d.sq_dist, gathered.d.sq_dist));
  EXPECT_TRUE(torch::equal(ring.d.cosine, gathered.d.cosine));
  EXPECT_TRUE(torch::equal(ring.d.present, gathered.d.present));
  EXPECT_TRUE(torch::equal(ring.u, gathered.u));

  // Against the plain-loop reference.
  torch::Tensor ref_cos;
  const torch::Tensor ref_d = reference_distances(st, rows, &ref_cos);
  EXPECT_TRUE(torch::equal(ring.d.present, st.present));
  EXPECT_TRUE(torch::equal(torch::isinf(ring.d.sq_dist), torch::isinf(ref_d)));
  const torch::Tensor fin = torch::isfinite(ref_d);
  const torch::Tensor err = (ring.d.sq_dist - ref_d).abs().masked_fill(~fin, 0.0);  // [k, N]
  if (precision == PairwisePrecision::float64) {
    const torch::Tensor rel = (err / ref_d.clamp_min(1e-300)).masked_select(fin & (ref_d > 0));
    if (rel.numel() > 0) {
      EXPECT_LT(rel.max().item<double>(), 1e-9) << "relative distance error";
    }
  } else {
    // Within 1e-5 of the centred scale ‖q − c‖² + ‖θ − c‖²; close pairs (the queries 1e-4 away
    // from their own upload) are recomputed, so they stay within 1e-9 of their own size.
    const torch::Tensor c = centre_of(st).to(torch::kFloat64);                                   // [S]
    const torch::Tensor qn = (pick(st.queries, rows).to(torch::kFloat64) - c).square().sum(1);   // [k]
    const torch::Tensor pn = (st.params.to(torch::kFloat64) - c).square().sum(1);                // [N]
    const torch::Tensor scale = qn.unsqueeze(1) + pn.unsqueeze(0);                               // [k, N]
    if (err.numel() > 0) {
      const double worst = (err / scale).max().item<double>();
      EXPECT_LT(worst, 1e-5) << "distance error relative to the centred scale";
      if (comm.rank() == 0) std::printf("[pairwise] float32: max |δd| / (‖q − c‖² + ‖θ − c‖²) = %.1e\n", worst);
    }
    const torch::Tensor close = fin & (ref_d < 1e-4 * scale) & (ref_d > 0);
    if (close.any().item<bool>()) {
      EXPECT_LT((err / ref_d.clamp_min(1e-300)).masked_select(close).max().item<double>(), 1e-9);
    }
  }
  // Unchanged models (every 4th query against its own upload) give exactly 0.
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t c = st.selected[rows[i]];
    if (rows[i] % 4 == 0 && st.present[c].item<bool>()) {
      EXPECT_EQ(ring.d.sq_dist[i][c].item<double>(), 0.0);
    }
  }
  const double cos_tol = precision == PairwisePrecision::float64 ? 1e-12 : 1e-6;
  EXPECT_TRUE(torch::allclose(ring.d.cosine, ref_cos, cos_tol, cos_tol));
  const torch::Tensor ref_u = reference_mix(st, rows, with_weights);
  EXPECT_TRUE(torch::allclose(ring.u.to(torch::kFloat64), ref_u, 1e-6, 1e-6))
      << "max diff " << (ring.u.to(torch::kFloat64) - ref_u).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Blocks, Pairwise,
                         ::testing::Values(std::make_tuple(int64_t{3}, int64_t{0}, true, PairwisePrecision::float64),
                                           std::make_tuple(int64_t{13}, int64_t{1}, true, PairwisePrecision::float64),
                                           std::make_tuple(int64_t{13}, int64_t{2}, false, PairwisePrecision::float64),
                                           std::make_tuple(int64_t{29}, int64_t{3}, true, PairwisePrecision::float64),
                                           std::make_tuple(int64_t{29}, int64_t{0}, false, PairwisePrecision::float64),
                                           std::make_tuple(int64_t{3}, int64_t{0}, true, PairwisePrecision::float32),
                                           std::make_tuple(int64_t{13}, int64_t{1}, true, PairwisePrecision::float32),
                                           std::make_tuple(int64_t{13}, int64_t{2}, false, PairwisePrecision::float32),
                                           std::make_tuple(int64_t{29}, int64_t{3}, true, PairwisePrecision::float32),
                                           std::make_tuple(int64_t{29}, int64_t{0}, false, PairwisePrecision::float32)));

// Passes over only the columns that can weigh anything (the held uploads' clients and the
// queries' own) give exactly the entries of the passes over all N clients, and the same mix, bit
// for bit; columns that miss a held upload's client are refused.
TEST(PairwiseColumns, ColumnsOfUploadsAndQueriesGiveTheFullResultBitForBit) {
  MpiCommunicator comm;
  const Cohort st(29, 37, 77);
  std::vector<int64_t> clients;
  for (int64_t row : st.rows_of(comm.rank(), comm.size())) clients.push_back(st.selected[row]);
  for (PairwisePrecision precision : {PairwisePrecision::float64, PairwisePrecision::float32})
    for (bool with_weights : {true, false}) {
      const Result full = run_pass(comm, st, PairwiseMode::ring, precision, 3, with_weights);
      const Result compact = run_pass(comm, st, PairwiseMode::ring, precision, 3, with_weights, true);
      // The columns: every present client, and this rank's queries' own clients (present or not).
      const torch::Tensor want = (st.present | torch::zeros({st.n}, torch::kBool).index_fill_(0, torch::tensor(clients, kI64), true))
                                     .nonzero()
                                     .flatten();  // [C]
      ASSERT_TRUE(torch::equal(compact.columns, want));
      EXPECT_LT(compact.columns.numel(), st.n);  // absent clients of other ranks' queries are left out
      EXPECT_TRUE(torch::equal(compact.d.sq_dist, full.d.sq_dist.index_select(1, want)));
      EXPECT_TRUE(torch::equal(compact.d.cosine, full.d.cosine.index_select(1, want)));
      EXPECT_TRUE(torch::equal(compact.d.present, st.present.index_select(0, want)));
      EXPECT_TRUE(torch::equal(compact.u, full.u));
      EXPECT_EQ(compact.distance_flops, full.distance_flops);
    }
  PairwiseExchange ex(comm, PairwiseMode::ring, PairwisePrecision::float32, st.n);
  ex.set_held(st.held(comm.rank(), comm.size(), false));
  const torch::Tensor q = pick(st.queries, st.rows_of(comm.rank(), comm.size()));
  const torch::Tensor missing = torch::tensor(clients, kI64);  // [k]: none of the other ranks' uploads
  try {
    ex.distances(q, false, missing);
    ADD_FAILURE() << "columns without the held uploads' clients were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("every held upload's client"), std::string::npos) << e.what();
  }
}

// The ring's peak extra memory stays at two blocks plus the accumulators whatever N is, while the
// allgather holds everyone's uploads; the bytes the ring moves are exactly (R−1)·own uploads.
TEST(PairwiseMemory, RingPeakIsTwoBlocksPlusAccumulators) {
  MpiCommunicator comm;
  const int64_t s = 2000, b = 2;
  for (PairwisePrecision precision : {PairwisePrecision::float64, PairwisePrecision::float32})
  for (int64_t n : {40, 80}) {
    const Cohort st(n, s, 99);
    const std::vector<int64_t> rows = st.rows_of(comm.rank(), comm.size());
    const int64_t k = static_cast<int64_t>(rows.size());
    comm.reset_stats();
    const Result ring = run_pass(comm, st, PairwiseMode::ring, precision, b, true);
    const int64_t sent = comm.stats(CommKind::sendrecv).bytes_sent;
    const Result gathered = run_pass(comm, st, PairwiseMode::allgather, precision, b, true);
    // Pass 2 dominates: 2 receive buffers × (params + weights) in float32, the block's params and
    // weights, and numerator, denominator and the queries [k, S], each in the pass's precision.
    const int64_t word = precision == PairwisePrecision::float64 ? 8 : 4;
    const int64_t blocks = comm.size() > 1 ? 2 * 2 * b * s * 4 : 0;
    const int64_t bound = blocks + 2 * b * s * word + 3 * k * s * word + 2 * k * n * 8;
    EXPECT_LE(ring.stats.peak_bytes, bound) << "n " << n;
    EXPECT_GE(ring.stats.peak_bytes, 2 * k * s * word);  // at least the numerator and denominator
    const HeldUploads mine = st.held(comm.rank(), comm.size(), true);
    const int64_t all_uploads = st.present.sum().item<int64_t>();
    EXPECT_GE(gathered.stats.peak_bytes, 2 * all_uploads * s * 4);  // params + weights of everyone
    if (comm.size() > 1) {
      EXPECT_LT(ring.stats.peak_bytes, gathered.stats.peak_bytes);
    }
    // Pass 1 sends params, pass 2 params and weights, each to R − 1 ranks.
    EXPECT_EQ(sent, (comm.size() - 1) * mine.ids.size(0) * s * 4 * 3);
    if (comm.rank() == 0)
      std::printf("[pairwise] %s R=%d N=%ld: ring peak %.2f MB (bound %.2f), allgather peak %.2f MB\n", precision == PairwisePrecision::float64 ? "float64" : "float32", comm.size(),
                  static_cast<long>(n), ring.stats.peak_bytes / 1e6, bound / 1e6, gathered.stats.peak_bytes / 1e6);
  }
}

// The flops the benchmarks divide by the SGEMM rate: 2·k·M·S for the distances (one product of
// this rank's k queries with all M uploads), 4·k·M·S for a weighted mix (numerator and
// denominator), 2·k·M·S without weights; in blocks of 2 rows or in one, on every rank count.
TEST(PairwiseFlops, CountEveryMatrixProduct) {
  MpiCommunicator comm;
  const Cohort st(13, 37, 21);
  const double k = static_cast<double>(st.rows_of(comm.rank(), comm.size()).size());
  const double m = st.present.sum().item<double>(), s = static_cast<double>(st.s);
  for (int64_t block_rows : {int64_t{0}, int64_t{2}})
    for (bool with_weights : {true, false}) {
      const Result r = run_pass(comm, st, PairwiseMode::ring, PairwisePrecision::float32, block_rows, with_weights);
      EXPECT_EQ(r.distance_flops, 2 * k * m * s) << "block_rows " << block_rows;
      EXPECT_EQ(r.stats.gemm_flops, (with_weights ? 4 : 2) * k * m * s) << "block_rows " << block_rows;
    }
}

// σ = "auto" is the median over every rank's rows, so it is identical everywhere.
TEST(PairwiseSigma, AutoSigmaIsGlobal) {
  MpiCommunicator comm;
  const Cohort st(29, 37, 5);
  const Result r = run_pass(comm, st, PairwiseMode::ring, PairwisePrecision::float64, 0, false);
  std::vector<int64_t> rows = st.rows_of(comm.rank(), comm.size()), clients;
  for (int64_t row : rows) clients.push_back(st.selected[row]);
  PairwiseExchange exchange(comm, PairwiseMode::ring, PairwisePrecision::float64, st.n);
  const double sigma = auto_sigma_global(r.d.sq_dist, torch::tensor(clients, kI64), exchange);
  const torch::Tensor all = comm.allgather(torch::tensor({sigma}, kF64));  // [R, 1]
  EXPECT_TRUE(torch::equal(all, torch::full_like(all, sigma)));
  std::vector<int64_t> every(st.selected.size());
  for (size_t i = 0; i < every.size(); ++i) every[i] = static_cast<int64_t>(i);
  torch::Tensor cos;
  const torch::Tensor d_all = reference_distances(st, every, &cos);
  const double ref = median_sigma(finite_offdiag(d_all, torch::tensor(st.selected, kI64)));
  EXPECT_NEAR(sigma, ref, 1e-9 * ref);
}

}  // namespace
}  // namespace fedsaf
