// eodrec's ExecuTorch kernels: the out variants of the operators that eodrec.device_ops
// defines for export. Built and loaded by eodrec.device_ops.load_runtime_kernels; linking
// against the runtime's libexecutorch registers them in its operator registry.
#include <executorch/extension/kernel_util/make_boxed_from_unboxed_functor.h>
#include <executorch/runtime/kernel/kernel_includes.h>

#include <algorithm>
#include <utility>
#include <vector>

using executorch::aten::ScalarType;
using executorch::aten::Tensor;
using executorch::runtime::KernelRuntimeContext;

namespace {

// scores[b, v] = sum_m partial[rows[v, m], b]: partial is (P, B) float, rows (V, M) int32,
// out (B, V) float. Items go in tiles of kTile: each item's M rows of partial are added as
// vectors over the batch (contiguous), then the tile is written out transposed.
Tensor& code_scores_out(
    KernelRuntimeContext& ctx, const Tensor& partial, const Tensor& rows, Tensor& out) {
  ET_KERNEL_CHECK(
      ctx, partial.dim() == 2 && rows.dim() == 2 && out.dim() == 2, InvalidArgument, out);
  ET_KERNEL_CHECK(
      ctx,
      partial.scalar_type() == ScalarType::Float && rows.scalar_type() == ScalarType::Int &&
          out.scalar_type() == ScalarType::Float,
      InvalidArgument,
      out);
  const int64_t P = partial.size(0), B = partial.size(1);
  const int64_t V = rows.size(0), M = rows.size(1);
  ET_KERNEL_CHECK(ctx, M > 0 && out.size(0) == B && out.size(1) == V, InvalidArgument, out);
  const float* p = partial.const_data_ptr<float>();
  const int32_t* r = rows.const_data_ptr<int32_t>();
  float* o = out.mutable_data_ptr<float>();
  constexpr int64_t kTile = 64;
  std::vector<float> tile(kTile * B);
  for (int64_t v0 = 0; v0 < V; v0 += kTile) {
    const int64_t n = std::min(kTile, V - v0);
    for (int64_t t = 0; t < n; ++t) {
      float* sum = tile.data() + t * B;
      const int32_t* item = r + (v0 + t) * M;
      for (int64_t m = 0; m < M; ++m) {
        ET_KERNEL_CHECK(ctx, item[m] >= 0 && item[m] < P, InvalidArgument, out);
        const float* row = p + int64_t(item[m]) * B;
        if (m == 0) {
          std::copy(row, row + B, sum);
        } else {
          for (int64_t b = 0; b < B; ++b) sum[b] += row[b];
        }
      }
    }
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < n; ++t) o[b * V + v0 + t] = tile[t * B + b];
    }
  }
  return out;
}

// The columns of the k highest scores of each row among columns start..C-1, best first; of
// equal scores the lower column. One pass with a k-entry heap: a score below the worst kept
// one costs a single comparison, so the pass reads each row once and sorts only k entries.
Tensor& top_k_out(
    KernelRuntimeContext& ctx, const Tensor& scores, int64_t k, int64_t start, Tensor& out) {
  ET_KERNEL_CHECK(ctx, scores.dim() == 2 && out.dim() == 2, InvalidArgument, out);
  ET_KERNEL_CHECK(
      ctx,
      scores.scalar_type() == ScalarType::Float && out.scalar_type() == ScalarType::Long,
      InvalidArgument,
      out);
  const int64_t B = scores.size(0), C = scores.size(1);
  ET_KERNEL_CHECK(
      ctx,
      k >= 1 && start >= 0 && start + k <= C && out.size(0) == B && out.size(1) == k,
      InvalidArgument,
      out);
  using Entry = std::pair<float, int64_t>;  // (score, column)
  const auto better = [](const Entry& a, const Entry& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  const float* s = scores.const_data_ptr<float>();
  int64_t* o = out.mutable_data_ptr<int64_t>();
  std::vector<Entry> kept;  // a heap whose front is the worst kept entry
  kept.reserve(k);
  for (int64_t b = 0; b < B; ++b) {
    const float* row = s + b * C;
    kept.clear();
    for (int64_t c = start; c < start + k; ++c) kept.emplace_back(row[c], c);
    std::make_heap(kept.begin(), kept.end(), better);
    float worst = kept.front().first;
    for (int64_t c = start + k; c < C; ++c) {
      if (row[c] > worst) {  // a later column with an equal score never beats a kept one
        std::pop_heap(kept.begin(), kept.end(), better);
        kept.back() = Entry(row[c], c);
        std::push_heap(kept.begin(), kept.end(), better);
        worst = kept.front().first;
      }
    }
    std::sort_heap(kept.begin(), kept.end(), better);
    for (int64_t j = 0; j < k; ++j) o[b * k + j] = kept[j].second;
  }
  return out;
}

}  // namespace

EXECUTORCH_LIBRARY(eodrec, "code_scores.out", code_scores_out);
EXECUTORCH_LIBRARY(eodrec, "top_k.out", top_k_out);
