#pragma once
// Counter-based random numbers (Philox4x32-10). Every stream is a pure function of
// (seed, purpose, a, b): a partition, a cohort or a client's shuffling never depends on which
// rank draws it or on what was drawn before. Distributions are implemented here (not with
// <random>'s distributions, whose algorithms differ between standard libraries) so that the same
// seed gives the same numbers on any machine.
#include <cstdint>
#include <vector>

namespace fedsaf {

// What a stream is for; keeps streams for different purposes independent.
enum class RngPurpose : uint32_t {
  kPartition = 1,
  kSynthetic = 2,
  kCohort = 3,
  kLocalTraining = 4,
  kModelInit = 5,
  kTrainTestSplit = 6,
  kEvalClients = 7,
  kTest = 99,
};

// Philox4x32-10 block: 4 × 32 random bits from a 128-bit counter and a 64-bit key.
void philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

// The blocks of counters (counter[0] + i, counter[1..3]) for i < n ≤ kPhiloxBatch: the same
// words as n calls of philox4x32, four blocks at a time in SIMD lanes where the CPU has SSE2.
constexpr int kPhiloxBatch = 8;
void philox4x32_blocks(const uint32_t counter[4], const uint32_t key[2], int n, uint32_t out[][4]);

class RngStream {
 public:
  // `a`, `b` and `c` are the stream's coordinates, e.g. (round, client, epoch); c < 2^24.
  RngStream(uint64_t seed, RngPurpose purpose, uint32_t a = 0, uint32_t b = 0, uint32_t c = 0);

  uint64_t next_u64();
  double uniform();                   // [0, 1)
  uint64_t uniform_int(uint64_t n);   // [0, n), n > 0
  double normal();                    // N(0, 1)
  // n draws of normal() into out[0..n), the same numbers as n calls, in bulk (the synthetic
  // generator's millions of draws).
  void normals(double* out, int64_t n);
  double gamma(double shape);         // Gamma(shape, 1), shape > 0
  std::vector<double> dirichlet(double alpha, int64_t k);  // Dir(alpha·1_k)
  void shuffle(std::vector<int64_t>& v);  // Fisher–Yates
  std::vector<int64_t> permutation(int64_t n);

 private:
  void refill();
  void normal_pair(double& first, double& second);
  uint32_t key_[2];
  uint32_t counter_[4];  // counter_[0]: the block index of blocks_[blocks_ready_]
  uint32_t blocks_[kPhiloxBatch][4];  // the next blocks of the stream, in counter order
  int blocks_ready_ = 0;              // how many of blocks_ hold drawn blocks
  int next_word_ = 0;                 // index of the next unused word in blocks_ (flattened)
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace fedsaf
