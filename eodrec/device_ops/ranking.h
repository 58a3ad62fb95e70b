// The arithmetic of eodrec's ExecuTorch kernels on plain arrays (kernels.cpp adds the
// runtime's tensors and registration): a k-best heap, the scores of a tile of items, and the
// one-pass ranking of a block of sessions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <limits>
#include <utility>
#include <vector>

namespace eodrec {

// The k best (score, column) pairs offered so far, in a heap whose front is the worst kept:
// of equal scores the lower column is better. Columns are offered in increasing order, so a
// score equal to the worst kept never enters, and most scores cost one comparison.
class TopK {
 public:
  explicit TopK(int64_t k) : k_(k) { kept_.reserve(k); }

  void clear() { kept_.clear(); }
  float worst() const { return kept_.front().first; }
  bool full() const { return int64_t(kept_.size()) == k_; }

  void offer(float score, int64_t column) {
    if (!full()) {
      kept_.emplace_back(score, column);
      std::push_heap(kept_.begin(), kept_.end(), better);
    } else if (score > worst()) {
      std::pop_heap(kept_.begin(), kept_.end(), better);
      kept_.back() = Entry(score, column);
      std::push_heap(kept_.begin(), kept_.end(), better);
    }
  }

  // Offer scores[0..n) as columns first, first + 1, ...; blocks of 16 with no score above the
  // worst kept are skipped by one vectorizable test.
  void offer_all(const float* scores, int64_t n, int64_t first) {
    int64_t i = 0;
    for (; i < n && !full(); ++i) offer(scores[i], first + i);
    for (; i + 16 <= n; i += 16) {
      const float floor = worst();
      bool any = false;
      for (int j = 0; j < 16; ++j) any |= scores[i + j] > floor;
      if (any) {
        for (int j = 0; j < 16; ++j) offer(scores[i + j], first + i + j);
      }
    }
    for (; i < n; ++i) offer(scores[i], first + i);
  }

  // Best first, into values (may be null) and ids.
  void write(float* values, int64_t* ids) {
    std::sort_heap(kept_.begin(), kept_.end(), better);
    for (int64_t j = 0; j < k_; ++j) {
      if (values != nullptr) values[j] = kept_[j].first;
      ids[j] = kept_[j].second;
    }
  }

 private:
  using Entry = std::pair<float, int64_t>;
  static bool better(const Entry& a, const Entry& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
  int64_t k_;
  std::vector<Entry> kept_;
};

constexpr int64_t kTile = 64;  // items scored together: a tile of (kTile, B) sums stays in L1

// Scores of items v0..v0+n-1 into tile (n, B): each item's M rows of partial (P, B) added as
// vectors over the batch. False if a row index is outside partial.
inline bool score_tile(
    const float* partial, int64_t P, int64_t B, const int32_t* rows, int64_t M, int64_t v0,
    int64_t n, float* tile) {
  for (int64_t t = 0; t < n; ++t) {
    float* sum = tile + t * B;
    const int32_t* item = rows + (v0 + t) * M;
    for (int64_t m = 0; m < M; ++m) {
      if (item[m] < 0 || item[m] >= P) return false;
      const float* row = partial + int64_t(item[m]) * B;
      if (m == 0) {
        std::copy(row, row + B, sum);
      } else {
        for (int64_t b = 0; b < B; ++b) sum[b] += row[b];
      }
    }
  }
  return true;
}

// The one-pass ranking of code_top_k, the (B, V) scores never written. Sessions go in blocks
// of kBlock: a block's slices of partial (P x 64 bytes) stay in L1, each item's kBlock scores
// are summed as one vector and compared at once with the block's worst kept scores; only when
// an item enters some session's heap do its scores go lane by lane.
constexpr int64_t kBlock = 16;
using Block = float __attribute__((vector_size(kBlock * sizeof(float))));  // GCC and Clang

// Whether any lane of a is above b's: one compare and mask on AVX-512 or AVX (the kernels are
// built for the machine that runs them), lane by lane elsewhere.
inline bool any_above(const Block& a, const Block& b) {
#if defined(__AVX512F__)
  return _mm512_cmp_ps_mask(__m512(a), __m512(b), _CMP_GT_OQ) != 0;
#elif defined(__AVX__)
  __m256 a2[2], b2[2];
  std::memcpy(a2, &a, sizeof a2);
  std::memcpy(b2, &b, sizeof b2);
  return (_mm256_movemask_ps(_mm256_cmp_ps(a2[0], b2[0], _CMP_GT_OQ)) |
          _mm256_movemask_ps(_mm256_cmp_ps(a2[1], b2[1], _CMP_GT_OQ))) != 0;
#else
  bool any = false;
  for (int64_t j = 0; j < kBlock; ++j) any |= a[j] > b[j];
  return any;
#endif
}

// Offer item v's scores sum[0..n) to sessions tops[0..n) where they beat floors.
inline void offer_scores(
    const float* sum, float* floors, int64_t n, int64_t v, TopK* tops) {
  for (int64_t j = 0; j < n; ++j) {
    if (sum[j] > floors[j]) {
      tops[j].offer(sum[j], v);
      if (tops[j].full()) floors[j] = tops[j].worst();
    }
  }
}

// Rank items start..V-1 for the kBlock sessions b0.. of partial (P, B), each item's scores a
// vector sum of its M rows' slices. Rows must index partial (checked by the caller).
inline void rank_block(
    const float* partial, int64_t B, const int32_t* rows, int64_t M, int64_t V, int64_t start,
    int64_t b0, TopK* tops) {
  float floors[kBlock], sum[kBlock];
  std::fill(floors, floors + kBlock, -std::numeric_limits<float>::infinity());  // until k kept
  Block floor_block;
  std::memcpy(&floor_block, floors, sizeof floor_block);
  for (int64_t v = start; v < V; ++v) {
    const int32_t* item = rows + v * M;
    Block total = {}, slice;
    for (int64_t m = 0; m < M; ++m) {
      std::memcpy(&slice, partial + int64_t(item[m]) * B + b0, sizeof slice);
      total += slice;
    }
    if (!any_above(total, floor_block)) continue;
    std::memcpy(sum, &total, sizeof sum);
    offer_scores(sum, floors, kBlock, v, tops);
    std::memcpy(&floor_block, floors, sizeof floor_block);
  }
}

// The same for the last n < kBlock sessions (one, for a single request): their slices of
// partial copied into a block padded with zeros, ranked as a full block, the padding lanes'
// heaps dropped. Generic loops over n cost far more per item than the padded lanes.
inline void rank_rest(
    const float* partial, int64_t P, int64_t B, const int32_t* rows, int64_t M, int64_t V,
    int64_t start, int64_t b0, int64_t n, int64_t k, TopK* tops) {
  std::vector<float> padded(P * kBlock, 0.0f);
  for (int64_t p = 0; p < P; ++p) {
    std::copy(partial + p * B + b0, partial + p * B + b0 + n, padded.data() + p * kBlock);
  }
  std::vector<TopK> block(kBlock, TopK(k));
  rank_block(padded.data(), kBlock, rows, M, V, start, 0, block.data());
  std::move(block.begin(), block.begin() + n, tops);
}

}  // namespace eodrec
