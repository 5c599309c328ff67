// Communicator collectives against hand-computed values, at whatever rank count mpirun gives
// (CTest runs 1, 2 and 4). Every test calls its collectives unconditionally on every rank (no
// ASSERT before a collective), so one rank's failed check cannot leave the others waiting.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <climits>
#include <string>
#include <vector>

#include "mpi/mpi_communicator.hpp"
#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

using test::error_of;

// Lowers the per-call element limit for one test, so the chunked paths run.
struct ChunkLimit {
  explicit ChunkLimit(int64_t n) { Communicator::set_max_elements_per_call(n); }
  ~ChunkLimit() { Communicator::set_max_elements_per_call(INT_MAX); }
};

const std::vector<torch::ScalarType> kDtypes = {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kInt32,
                                               torch::kUInt8};

TEST(Communicator, DuplicatesAndKnowsItsPlace) {
  MpiCommunicator comm;
  int rank = 0, size = 0, cmp = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(comm.rank(), rank);
  EXPECT_EQ(comm.size(), size);
  MPI_Comm_compare(comm.raw(), MPI_COMM_WORLD, &cmp);
  EXPECT_EQ(cmp, MPI_CONGRUENT);  // same group, its own context: our traffic cannot mix with others'
  EXPECT_GE(comm.local_rank(), 0);
  EXPECT_LT(comm.local_rank(), comm.local_size());
  MpiCommunicator moved(std::move(comm));
  EXPECT_EQ(moved.rank(), rank);
}

TEST(Communicator, AllreduceSumEveryDtype) {
  MpiCommunicator comm;
  const int64_t R = comm.size();
  for (torch::ScalarType dtype : kDtypes) {
    torch::Tensor t = torch::full({2, 3}, comm.rank() + 1, torch::dtype(dtype));  // [2, 3]
    comm.allreduce_sum(t);
    EXPECT_TRUE(t.equal(torch::full({2, 3}, R * (R + 1) / 2, torch::dtype(dtype)))) << c10::toString(dtype);
  }
}

TEST(Communicator, AllreduceMaxEveryDtypeTakesTheLargestPerElement) {
  MpiCommunicator comm;
  const int64_t R = comm.size(), r = comm.rank();
  for (torch::ScalarType dtype : kDtypes) {
    // Element 0 peaks on the last rank, element 1 on rank 0, element 2 is the same everywhere.
    torch::Tensor t = torch::tensor({r + 1, R - r, int64_t{7}}).to(dtype);  // [3]
    comm.allreduce_max(t);
    EXPECT_TRUE(t.equal(torch::tensor({R, R, int64_t{7}}).to(dtype))) << c10::toString(dtype);
  }
  torch::Tensor negative = torch::tensor({-3.5 - static_cast<double>(r)});  // [1] float64
  comm.allreduce_max(negative);
  EXPECT_EQ(negative[0].item<double>(), -3.5);
  EXPECT_EQ(comm.stats(CommKind::allreduce).bytes_sent, comm.stats(CommKind::allreduce).bytes_received);
}

TEST(Communicator, AllreduceOnAContiguousView) {
  MpiCommunicator comm;
  torch::Tensor base = torch::zeros({10}, torch::kFloat64);  // [10]
  base.narrow(0, 2, 5).fill_(comm.rank() + 1);
  comm.allreduce_sum(base.narrow(0, 2, 5));  // a temporary view: writes through to base
  const double s = comm.size() * (comm.size() + 1) / 2.0;
  EXPECT_DOUBLE_EQ(base[2].item<double>(), s);
  EXPECT_DOUBLE_EQ(base[6].item<double>(), s);
  EXPECT_DOUBLE_EQ(base[7].item<double>(), 0.0);
}

TEST(Communicator, OnSelfIsIdentity) {
  MpiCommunicator self(MPI_COMM_SELF);
  EXPECT_EQ(self.size(), 1);
  torch::Tensor t = torch::arange(4, torch::kFloat32);  // [4]
  self.allreduce_sum(t);
  EXPECT_TRUE(t.equal(torch::arange(4, torch::kFloat32)));
}

TEST(Communicator, BroadcastFromEveryRoot) {
  MpiCommunicator comm;
  for (int root = 0; root < comm.size(); ++root) {
    const torch::Tensor expected = torch::arange(6, torch::kInt64).view({2, 3}) + 10 * root;  // [2, 3]
    torch::Tensor t = comm.rank() == root ? expected.clone() : torch::zeros({2, 3}, torch::kInt64);
    comm.broadcast(t, root);
    EXPECT_TRUE(t.equal(expected)) << "root " << root;
  }
}

TEST(Communicator, AllgatherStacksRanks) {
  MpiCommunicator comm;
  const torch::Tensor mine = torch::full({2, 3}, comm.rank(), torch::kFloat32);  // [2, 3]
  const torch::Tensor all = comm.allgather(mine);                               // [R, 2, 3]
  EXPECT_EQ(all.sizes(), (std::vector<int64_t>{comm.size(), 2, 3}));
  for (int r = 0; r < comm.size(); ++r) EXPECT_TRUE(all[r].equal(torch::full({2, 3}, r, torch::kFloat32)));
}

TEST(Communicator, AllgathervDifferentCountsPerRank) {
  MpiCommunicator comm;
  const int64_t R = comm.size();
  // Rank r contributes r rows (rank 0 none) of [r*100 + row, -row].
  const int64_t n = comm.rank();
  const torch::Tensor rows = torch::arange(n, torch::kInt64);                              // [n]
  const torch::Tensor mine = torch::stack({rows + 100 * comm.rank(), -rows}, 1);           // [n, 2]
  const Gathered g = comm.allgatherv(mine);
  std::vector<int64_t> expected_counts;
  std::vector<torch::Tensor> expected_rows;
  for (int64_t r = 0; r < R; ++r) {
    expected_counts.push_back(r);
    const torch::Tensor k = torch::arange(r, torch::kInt64);
    expected_rows.push_back(torch::stack({k + 100 * r, -k}, 1));
  }
  EXPECT_EQ(g.counts, expected_counts);
  EXPECT_EQ(g.data.sizes(), (std::vector<int64_t>{R * (R - 1) / 2, 2}));
  EXPECT_TRUE(g.data.equal(torch::cat(expected_rows)));

  // Rank r contributes r + 1 elements of a 1-D tensor.
  const Gathered h = comm.allgatherv(torch::full({comm.rank() + 1}, comm.rank(), torch::kFloat64));  // [r+1]
  EXPECT_EQ(h.data.numel(), R * (R + 1) / 2);
  int64_t at = 0;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i <= r; ++i) EXPECT_EQ(h.data[at++].item<double>(), static_cast<double>(r));
}

TEST(Communicator, AllgathervRejectsMismatchedRowsOnEveryRank) {
  MpiCommunicator comm;
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  comm.set_check_consistency(false);  // test allgatherv's own checks, whatever FEDSAF_MPI_CHECKS says
  // Every rank sees the same exchanged sizes, so every rank throws (no hang).
  const torch::Tensor t = torch::zeros({1, comm.rank() == 0 ? 2 : 3}, torch::kFloat32);
  EXPECT_NE(error_of([&] { comm.allgatherv(t); }).find("allgatherv: rows differ in shape"), std::string::npos);
  const torch::Tensor u = torch::zeros({1}, comm.rank() == 0 ? torch::kFloat32 : torch::kFloat64);
  EXPECT_NE(error_of([&] { comm.allgatherv(u); }).find("passed dtype"), std::string::npos);
}

TEST(Communicator, ReduceScatterSum) {
  MpiCommunicator comm;
  const int64_t R = comm.size();
  // Element j on rank r is r + 1 + j, so the sum is R(R+1)/2 + R*j; rank r keeps j in [3r, 3r+3).
  const torch::Tensor in = torch::arange(3 * R, torch::kFloat32).view({R, 3}) + (comm.rank() + 1);  // [R, 3]
  const torch::Tensor out = comm.reduce_scatter_sum(in);                                           // [1, 3]
  const torch::Tensor j = torch::arange(3 * comm.rank(), 3 * comm.rank() + 3, torch::kFloat32).view({1, 3});
  EXPECT_TRUE(out.equal(R * (R + 1) / 2 + R * j)) << out;
}

TEST(Communicator, FusedEqualsSeparate) {
  MpiCommunicator comm;
  torch::manual_seed(1234 + comm.rank());
  // Integer-valued data: sums are exact whatever order MPI adds in.
  auto make = [] {
    return std::vector<torch::Tensor>{
        torch::randint(-50, 50, {3, 4}, torch::kFloat32),  // [3, 4]
        torch::randint(-50, 50, {5}, torch::kFloat64),     // [5]
        torch::randint(-50, 50, {2, 2}, torch::kInt64),    // [2, 2]
        torch::randint(-50, 50, {7}, torch::kFloat32),     // [7]
        torch::randint(-50, 50, {0}, torch::kInt32),       // [0]
        torch::randint(0, 10, {3}, torch::kUInt8)};        // [3]
  };
  std::vector<torch::Tensor> fused = make();
  std::vector<torch::Tensor> separate;
  for (const auto& t : fused) separate.push_back(t.clone());
  torch::Tensor wide = torch::randint(-50, 50, {4, 3}, torch::kFloat32);  // [4, 3]
  fused.push_back(wide.t());                                              // [3, 4], non-contiguous view
  separate.push_back(wide.t().contiguous());

  comm.reset_stats();
  comm.allreduce_sum_fused(fused);
  EXPECT_EQ(comm.stats(CommKind::allreduce).calls, 1);
  for (const auto& t : separate) comm.allreduce_sum(t);
  for (size_t i = 0; i < fused.size(); ++i) EXPECT_TRUE(fused[i].equal(separate[i])) << "tensor " << i;
  EXPECT_TRUE(wide.t().equal(separate.back()));  // the fused result landed in wide's own storage
}

TEST(Communicator, ChunkedEqualsUnchunked) {
  MpiCommunicator comm;
  const int64_t R = comm.size(), n = 10'001;  // 10 full pieces of 1000 and one of 1
  const torch::Tensor base = (torch::arange(n, torch::kInt64) % 97).to(torch::kFloat32);  // [n]
  auto mine = [&] { return base * (comm.rank() + 1); };                                  // [n]

  torch::Tensor plain = mine();
  comm.allreduce_sum(plain);
  const torch::Tensor plain_gather = comm.allgather(mine());                   // [R, n]
  const Gathered plain_v = comm.allgatherv(mine().narrow(0, 0, n - comm.rank()));
  const torch::Tensor plain_rs = comm.reduce_scatter_sum(mine().narrow(0, 0, n / R * R));
  torch::Tensor plain_b = comm.rank() == 0 ? mine() : torch::zeros({n});
  comm.broadcast(plain_b, 0);
  std::vector<torch::Tensor> plain_fused{mine(), mine().to(torch::kFloat64)};
  comm.allreduce_sum_fused(plain_fused);

  ChunkLimit limit(1000);
  torch::Tensor chunked = mine();
  comm.allreduce_sum(chunked);
  EXPECT_TRUE(chunked.equal(plain));
  EXPECT_TRUE(chunked.equal(base * static_cast<float>(R * (R + 1) / 2)));
  EXPECT_TRUE(comm.allgather(mine()).equal(plain_gather));
  const Gathered v = comm.allgatherv(mine().narrow(0, 0, n - comm.rank()));
  EXPECT_EQ(v.counts, plain_v.counts);
  EXPECT_TRUE(v.data.equal(plain_v.data));
  EXPECT_TRUE(comm.reduce_scatter_sum(mine().narrow(0, 0, n / R * R)).equal(plain_rs));
  torch::Tensor b = comm.rank() == 0 ? mine() : torch::zeros({n});
  comm.broadcast(b, 0);
  EXPECT_TRUE(b.equal(plain_b));
  std::vector<torch::Tensor> fused{mine(), mine().to(torch::kFloat64)};
  comm.allreduce_sum_fused(fused);
  EXPECT_TRUE(fused[0].equal(plain_fused[0]));
  EXPECT_TRUE(fused[1].equal(plain_fused[1]));

  // Point to point in pieces: ring shift, blocking receive posted after a non-blocking send.
  const int next = (comm.rank() + 1) % comm.size(), prev = (comm.rank() + comm.size() - 1) % comm.size();
  torch::Tensor got = torch::zeros({n});
  Request s = comm.isend(mine(), next, 5);
  comm.recv(got, prev, 5);
  s.wait();
  EXPECT_TRUE(got.equal(base * (prev + 1)));
}

TEST(Communicator, ByteCountersFollowThePayloadModel) {
  MpiCommunicator comm;
  const int64_t R = comm.size(), r = comm.rank();
  comm.reset_stats();
  comm.allreduce_sum(torch::zeros({10}, torch::kFloat32));                       // 40 bytes
  comm.allreduce_sum_fused({torch::zeros({3}, torch::kFloat32), torch::zeros({2}, torch::kFloat64)});  // 12 + 16
  comm.broadcast(torch::zeros({3}, torch::kFloat64), 0);                          // 24 bytes
  comm.allgather(torch::zeros({4}, torch::kInt32));                               // 16 bytes each
  comm.allgatherv(torch::zeros({r + 1}, torch::kInt64));                          // 8(r+1) bytes each
  comm.reduce_scatter_sum(torch::zeros({2 * R}, torch::kFloat32));               // 8R in, 8 out
  const int next = static_cast<int>((r + 1) % R), prev = static_cast<int>((r + R - 1) % R);
  Request in = comm.irecv(torch::zeros({5}, torch::kUInt8), prev);                // 5 bytes
  Request out = comm.isend(torch::zeros({5}, torch::kUInt8), next);
  in.wait();
  out.wait();

  const CommStats ar = comm.stats(CommKind::allreduce);
  EXPECT_EQ(ar.bytes_sent, 40 + 28);
  EXPECT_EQ(ar.bytes_received, 40 + 28);
  EXPECT_EQ(ar.calls, 2);
  const CommStats bc = comm.stats(CommKind::broadcast);
  EXPECT_EQ(bc.bytes_sent, r == 0 ? 24 : 0);
  EXPECT_EQ(bc.bytes_received, r == 0 ? 0 : 24);
  EXPECT_EQ(bc.calls, 1);
  const CommStats ag = comm.stats(CommKind::allgather);
  EXPECT_EQ(ag.bytes_sent, 16 + 8 * (r + 1));
  EXPECT_EQ(ag.bytes_received, 16 * R + 8 * R * (R + 1) / 2);
  EXPECT_EQ(ag.calls, 2);
  const CommStats rs = comm.stats(CommKind::reduce_scatter);
  EXPECT_EQ(rs.bytes_sent, 8 * R);
  EXPECT_EQ(rs.bytes_received, 8);
  const CommStats sr = comm.stats(CommKind::sendrecv);
  EXPECT_EQ(sr.bytes_sent, 5);
  EXPECT_EQ(sr.bytes_received, 5);
  EXPECT_EQ(sr.calls, 2);
  // mpirun here puts every rank on this host: one node, nothing off it.
  EXPECT_EQ(comm.node_count(), 1);
  EXPECT_EQ(comm.node_of(static_cast<int>(R) - 1), 0);
  EXPECT_EQ(comm.local_size(), R);
  for (const auto& [kind, s] : comm.stats()) {
    EXPECT_EQ(s.bytes_sent_off_node, 0) << comm_kind_name(kind);
    EXPECT_EQ(s.bytes_received_off_node, 0) << comm_kind_name(kind);
  }

  const CommStats total = comm.total_stats();
  EXPECT_EQ(total.calls, 8);
  int64_t sent = 0;
  for (const auto& [kind, s] : comm.stats()) sent += s.bytes_sent;  // the engine's way of summing
  EXPECT_EQ(sent, total.bytes_sent);
  EXPECT_EQ(comm.stats().size(), 5u);

  comm.reset_stats();
  EXPECT_EQ(comm.total_stats().bytes_sent, 0);
  EXPECT_EQ(comm.total_stats().bytes_received, 0);
  EXPECT_EQ(comm.total_stats().calls, 0);
  EXPECT_STREQ(comm_kind_name(CommKind::reduce_scatter), "reduce_scatter");
}

TEST(Communicator, RingShiftWithIsendIrecv) {
  MpiCommunicator comm;
  const int R = comm.size(), next = (comm.rank() + 1) % R, prev = (comm.rank() + R - 1) % R;
  const torch::Tensor mine = torch::arange(5, torch::kFloat64) + 10 * comm.rank();  // [5]
  torch::Tensor got = torch::zeros({5}, torch::kFloat64);                            // [5]
  Request in = comm.irecv(got, prev, 3);
  Request out = comm.isend(mine, next, 3);
  EXPECT_TRUE(in.pending());
  while (!in.test()) {
  }
  out.wait();
  EXPECT_FALSE(in.pending());
  EXPECT_TRUE(got.equal(torch::arange(5, torch::kFloat64) + 10 * prev));

  // Requests dropped without wait() complete in their destructors (receive declared first, so
  // it is destroyed last: the send to ourselves at one rank must be matched first).
  torch::Tensor got2 = torch::zeros({3}, torch::kInt32);  // [3]
  {
    Request in2 = comm.irecv(got2, prev, 4);
    Request out2 = comm.isend(torch::full({3}, comm.rank(), torch::kInt32), next, 4);
  }
  EXPECT_TRUE(got2.equal(torch::full({3}, prev, torch::kInt32)));
}

TEST(Communicator, PendingReceiveIsCancelledWhileUnwinding) {
  MpiCommunicator comm;
  torch::Tensor t = torch::zeros({3});  // [3]
  try {
    Request never = comm.irecv(t, comm.rank(), 99);  // nobody sends this: waiting would hang
    throw std::runtime_error("local failure");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(t.equal(torch::zeros({3})));
  comm.barrier();
}

TEST(Communicator, SendRecvAndSizeMismatch) {
  MpiCommunicator comm;
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  if (comm.rank() == 0) {
    comm.send(torch::arange(4, torch::kInt64), 1, 1);  // [4]
    comm.send(torch::arange(3, torch::kInt64), 1, 2);  // [3]: fewer than rank 1 expects
    comm.send(torch::arange(5, torch::kInt64), 1, 3);  // [5]: more than rank 1 expects
  } else if (comm.rank() == 1) {
    torch::Tensor a = torch::zeros({4}, torch::kInt64);
    comm.recv(a, 0, 1);
    EXPECT_TRUE(a.equal(torch::arange(4, torch::kInt64)));
    EXPECT_EQ(error_of([&] { comm.recv(torch::zeros({5}, torch::kInt64), 0, 2); }),
              "recv: expected 5 elements from rank 0 (tag 2), got 3");
    // MPI itself reports truncation; MPI_ERRORS_RETURN turns it into an MpiError.
    try {
      comm.recv(torch::zeros({3}, torch::kInt64), 0, 3);
      ADD_FAILURE() << "expected MpiError";
    } catch (const MpiError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("recv: MPI_Recv failed: ", 0), 0u) << e.what();
    }
  }
  comm.barrier();
}

TEST(Communicator, ErrorsNameTheOperationAndTheProblem) {
  MpiCommunicator comm;
  const torch::Tensor wide = torch::zeros({4, 3});  // [4, 3]
  EXPECT_EQ(error_of([&] { comm.allreduce_sum(wide.t()); }),
            "allreduce_sum: tensor [3, 4] with strides [1, 3] is not contiguous; pass tensor.contiguous()");
  EXPECT_EQ(error_of([&] { comm.broadcast(torch::zeros({2}, torch::kFloat16), 0); }),
            "broadcast: unsupported dtype Half; supported: float32, float64, int64, int32, uint8");
  EXPECT_NE(error_of([&] { comm.allgather(torch::zeros({2}, torch::kBool)); }).find("allgather: unsupported dtype Bool"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { comm.allreduce_sum(torch::Tensor()); }), "allreduce_sum: tensor is undefined");
  EXPECT_EQ(error_of([&] { comm.broadcast(torch::zeros({2}), comm.size()); }),
            "broadcast: root " + std::to_string(comm.size()) + " is out of range for " + std::to_string(comm.size()) +
                " ranks");
  if (comm.size() > 1) {  // at one rank every size is a multiple
    EXPECT_EQ(error_of([&] { comm.reduce_scatter_sum(torch::zeros({comm.size() * 2 + 1})); }),
              "reduce_scatter_sum: first dimension of [" + std::to_string(comm.size() * 2 + 1) +
                  "] is not a multiple of the " + std::to_string(comm.size()) + " ranks");
  }
  EXPECT_EQ(error_of([&] { comm.reduce_scatter_sum(torch::zeros({})); }),
            "reduce_scatter_sum: a 0-dim tensor has no first dimension to split across ranks");
  EXPECT_EQ(error_of([&] { comm.send(torch::zeros({2}), -1); }), "send: destination rank -1 is out of range for " +
                                                                     std::to_string(comm.size()) + " ranks");
  EXPECT_EQ(error_of([&] { comm.irecv(torch::zeros({2}), 0, -4); }), "irecv: tag -4 is negative");
  EXPECT_NE(error_of([&] { comm.allreduce_sum_fused({torch::zeros({2}), torch::zeros({2}, torch::kComplexFloat)}); })
                .find("allreduce_sum_fused: unsupported dtype"),
            std::string::npos);
  EXPECT_EQ(error_of([] { Communicator::set_max_elements_per_call(0); }),
            "Communicator::set_max_elements_per_call: 0 is outside [1, 2147483647]");
  // Nothing above reached MPI, and the communicator still works.
  torch::Tensor t = torch::ones({1});
  comm.allreduce_sum(t);
  EXPECT_EQ(t.item<float>(), static_cast<float>(comm.size()));
}

TEST(Communicator, ConsistencyCheckCatchesBrokenContract) {
  MpiCommunicator comm;
  comm.set_check_consistency(true);
  torch::Tensor ok = torch::ones({3});
  comm.allreduce_sum(ok);  // agreeing ranks pass the check
  EXPECT_EQ(ok[0].item<float>(), static_cast<float>(comm.size()));
  if (comm.size() < 2) return;
  // Rank 0 passes 5 elements, the others 6: every rank sees the exchanged sizes and throws.
  const std::string e = error_of([&] { comm.allreduce_sum(torch::zeros({comm.rank() == 0 ? 5 : 6})); });
  EXPECT_EQ(e, "allreduce_sum: ranks break the collective contract: rank 0 called allreduce_sum(float32, 5 elements, 0), "
               "rank 1 called allreduce_sum(float32, 6 elements, 0)");
  // Different operations are caught too (each starts with the same check exchange).
  const std::string f = error_of([&] {
    if (comm.rank() == 0) comm.broadcast(torch::zeros({2}), 0);
    else comm.allreduce_sum(torch::zeros({2}));
  });
  EXPECT_NE(f.find("rank 0 called broadcast(float32, 2 elements, 0), rank 1 called allreduce_sum"), std::string::npos) << f;
}

TEST(Communicator, CudaTensorsGoThroughTheHost) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  MpiCommunicator comm;
  torch::Tensor t = torch::full({4}, comm.rank() + 1, torch::dtype(torch::kFloat32).device(torch::kCUDA));  // [4]
  comm.allreduce_sum(t);
  EXPECT_TRUE(t.is_cuda());
  EXPECT_TRUE(t.cpu().equal(torch::full({4}, comm.size() * (comm.size() + 1) / 2, torch::kFloat32)));
  const torch::Tensor g = comm.allgather(t);  // [R, 4]
  EXPECT_TRUE(g.is_cuda());
}

}  // namespace
// run.cuda_aware_mpi: "on" is refused, naming the key, when this MPI library has no CUDA support;
// "auto" follows what the library reports; "off" always stages through host memory.
TEST(CudaAwareMpi, TheSwitchFollowsWhatMpiReports) {
  EXPECT_EQ(cuda_aware_wanted("auto"), mpi_cuda_aware());
  EXPECT_FALSE(cuda_aware_wanted("off"));
  if (mpi_cuda_aware()) {
    EXPECT_TRUE(cuda_aware_wanted("on"));
  } else {
    try {
      cuda_aware_wanted("on");
      ADD_FAILURE() << "expected ConfigError";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("run.cuda_aware_mpi = \"on\""), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(cuda_aware_wanted("yes"), ConfigError);
}

}  // namespace fedsaf
