// The host build's entry points (tests only, with host_emulation.hpp): every specialization of
// the kernels of the .cu file that includes this, by the very name expression CuPy compiles
// for the GPU ("gswarp::cuda::grid_sample<2, 0, 8, 8>"), so the tests run the kernels under
// the names, arguments and launch geometries that gswarp/engine/cuda_core.py hands to CuPy.
//
//   int gswarp_cuda_host_launch(const char* name, const void* args, int64_t total,
//                               unsigned blocks, unsigned threads)  -> 0, or -1: no such kernel
//   int64_t gswarp_cuda_host_layout(const char* what)  -> sizeof / offsetof of the structs
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>

namespace gswarp {
namespace cuda_host {

using Entry = void (*)(const void* args, index_t total, unsigned blocks, unsigned threads);

inline std::string expression(const char* kernel, std::initializer_list<int> parameters) {
  std::string name = std::string("gswarp::cuda::") + kernel + "<";
  const char* separator = "";
  for (int p : parameters) {
    name += separator + std::to_string(p);
    separator = ", ";
  }
  return name + ">";
}

template <typename Args, typename Kernel>
void run(const void* args, index_t total, unsigned blocks, unsigned threads, Kernel kernel) {
  const Args& a = *static_cast<const Args*>(args);
  launch(blocks, threads, [&] { kernel(a, total); });
}

constexpr int KINDS[] = {I8, U8, I16, U16, I32, U32, I64, U64, F32, F64};

template <int S, int M, int I, int G>
void add_grid(std::map<std::string, Entry>& table) {
  table[expression("grid_sample", {S, M, I, G})] = [](const void* a, index_t total, unsigned b,
                                                      unsigned t) {
    run<GridSample>(a, total, b, t, cuda::grid_sample<S, M, I, G>);
  };
}

template <int S, int M, int I, int SOURCE>
void add_antialias(std::map<std::string, Entry>& table) {
  table[expression("antialias", {S, M, I, SOURCE})] = [](const void* a, index_t total,
                                                         unsigned b, unsigned t) {
    run<Antialias>(a, total, b, t, cuda::antialias<S, M, I, SOURCE>);
  };
}

template <int S, int M, int I>
void add_point_kernels(std::map<std::string, Entry>& table) {
  add_grid<S, M, I, F32>(table);
  add_grid<S, M, I, F64>(table);
  table[expression("affine_sample", {S, M, I})] = [](const void* a, index_t total, unsigned b,
                                                     unsigned t) {
    run<AffineSample>(a, total, b, t, cuda::affine_sample<S, M, I>);
  };
  table[expression("flow_sample", {S, M, I})] = [](const void* a, index_t total, unsigned b,
                                                   unsigned t) {
    run<FlowSample>(a, total, b, t, cuda::flow_sample<S, M, I>);
  };
  add_antialias<S, M, I, AA_AFFINE>(table);
  add_antialias<S, M, I, AA_PIXELS>(table);
  add_antialias<S, M, I, AA_FLOW>(table);
}

template <int S, int M, std::size_t... K>
void add_kinds(std::map<std::string, Entry>& table, std::index_sequence<K...>) {
  (add_point_kernels<S, M, KINDS[K]>(table), ...);
}

template <int S, int M, int K>
void add_backward(std::map<std::string, Entry>& table) {
  table[expression("grid_backward", {S, M, K})] = [](const void* a, index_t total, unsigned b,
                                                     unsigned t) {
    run<Backward>(a, total, b, t, cuda::grid_backward<S, M, K>);
  };
  table[expression("matrix_backward", {S, M, K})] = [](const void* a, index_t total,
                                                       unsigned b, unsigned t) {
    run<Backward>(a, total, b, t, cuda::matrix_backward<S, M, K>);
  };
  table[expression("input_backward", {S, M, K, 0})] = [](const void* a, index_t total,
                                                         unsigned b, unsigned t) {
    run<Backward>(a, total, b, t, cuda::input_backward<S, M, K, 0>);
  };
  table[expression("input_backward", {S, M, K, 1})] = [](const void* a, index_t total,
                                                         unsigned b, unsigned t) {
    run<Backward>(a, total, b, t, cuda::input_backward<S, M, K, 1>);
  };
}

template <int S, int M>
void add_backward_types(std::map<std::string, Entry>& table) {
  add_backward<S, M, F32>(table);
  add_backward<S, M, F64>(table);
}

template <int S>
void add_spatial(std::map<std::string, Entry>& table) {
  add_backward_types<S, BILINEAR>(table);
  add_backward_types<S, NEAREST>(table);
  add_backward_types<S, BICUBIC>(table);
  using Kinds = std::make_index_sequence<sizeof(KINDS) / sizeof(KINDS[0])>;
  add_kinds<S, BILINEAR>(table, Kinds{});
  add_kinds<S, NEAREST>(table, Kinds{});
  add_kinds<S, BICUBIC>(table, Kinds{});
  table[expression("affine_grid", {S, F32})] = [](const void* a, index_t total, unsigned b,
                                                  unsigned t) {
    run<AffineGrid>(a, total, b, t, cuda::affine_grid<S, F32>);
  };
  table[expression("affine_grid", {S, F64})] = [](const void* a, index_t total, unsigned b,
                                                  unsigned t) {
    run<AffineGrid>(a, total, b, t, cuda::affine_grid<S, F64>);
  };
}

inline const std::map<std::string, Entry>& kernels() {
  static const std::map<std::string, Entry> table = [] {
    std::map<std::string, Entry> t;
    add_spatial<2>(t);
    add_spatial<3>(t);
    return t;
  }();
  return table;
}

}  // namespace cuda_host
}  // namespace gswarp

extern "C" int gswarp_cuda_host_launch(const char* name, const void* args, std::int64_t total,
                                       unsigned blocks, unsigned threads) {
  const auto& table = gswarp::cuda_host::kernels();
  const auto found = table.find(name);
  if (found == table.end()) return -1;
  found->second(args, total, blocks, threads);
  return 0;
}

// sizeof(S) for "S", offsetof(S, f) for "S.f": the tests check the NumPy layouts against them.
extern "C" std::int64_t gswarp_cuda_host_layout(const char* what) {
  using namespace gswarp;
  static const std::map<std::string, std::int64_t> layout = {
      {"ArrayArg", sizeof(ArrayArg)},
      {"ArrayArg.kind", offsetof(ArrayArg, kind)},
      {"ArrayArg.shape", offsetof(ArrayArg, shape)},
      {"ArrayArg.stride", offsetof(ArrayArg, stride)},
      {"SampleOptions", sizeof(SampleOptions)},
      {"Window", sizeof(Window)},
      {"GridSample", sizeof(GridSample)},
      {"GridSample.options", offsetof(GridSample, options)},
      {"AffineSample", sizeof(AffineSample)},
      {"AffineSample.options", offsetof(AffineSample, options)},
      {"AffineSample.window", offsetof(AffineSample, window)},
      {"FlowSample", sizeof(FlowSample)},
      {"FlowSample.options", offsetof(FlowSample, options)},
      {"FlowSample.absolute", offsetof(FlowSample, absolute)},
      {"FlowSample.separable", offsetof(FlowSample, separable)},
      {"FlowSample.window", offsetof(FlowSample, window)},
      {"AffineGrid", sizeof(AffineGrid)},
      {"Backward", sizeof(Backward)},
      {"Backward.options", offsetof(Backward, options)},
      {"Backward.affine", offsetof(Backward, affine)},
      {"Backward.bands", offsetof(Backward, bands)},
      {"Antialias", sizeof(Antialias)},
      {"Antialias.options", offsetof(Antialias, options)},
      {"Antialias.kind", offsetof(Antialias, kind)},
      {"Antialias.top", offsetof(Antialias, top)},
      {"Antialias.support", offsetof(Antialias, support)},
      {"Antialias.absolute", offsetof(Antialias, absolute)},
      {"Antialias.separable", offsetof(Antialias, separable)},
      {"AffineGrid.align_corners", offsetof(AffineGrid, align_corners)},
  };
  const auto found = layout.find(what);
  return found == layout.end() ? -1 : found->second;
}
